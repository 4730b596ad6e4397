"""Languages without a model: tags, counting, stop words and stems, caption pages for scripts without spaces,
alignment, right-to-left ASS, the fonts every script is drawn with (checked glyph by glyph with fontTools),
and the voices cs-voice picks per language."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from creator_tools import languages, text
from creator_tools.engines import tts
from creator_tools.errors import UsageError
from creator_tools.media import fonts, subtitles

BIN = Path(sys.executable).parent
# One or two hand-written sentences per writing system (the slow pipeline test speaks some of them).
SAMPLES = {
    "es": "El buen café empieza con granos frescos.",
    "de": "Guter Kaffee beginnt mit frischen Bohnen – schön.",
    "ar": "القهوة الجيدة تبدأ بحبوب طازجة.",
    "he": "קפה טוב מתחיל בפולים טריים.",
    "hi": "अच्छी कॉफी ताज़ी फलियों से शुरू होती है।",
    "bn": "ভালো কফি তাজা বীজ দিয়ে শুরু হয়।",
    "th": "กาแฟดีเริ่มจากเมล็ดสด",
    "ja": "おいしいコーヒーは新鮮な豆から始まります。",
    "zh": "好咖啡从新鲜的咖啡豆开始。",
    "emoji": "Café ☕ en casa 🏠",
}


def test_tags_are_canonical_and_names_map_to_codes():
    assert languages.canonical("pt-br") == "pt-BR"
    assert languages.canonical("zh-hans") == "zh-Hans"
    assert languages.canonical("Spanish") == "es"
    with pytest.raises(UsageError, match="BCP-47"):
        languages.canonical("español!")


def test_spaceless_scripts_count_characters_and_indic_words_stay_whole():
    assert languages.units(SAMPLES["zh"], "zh") == 12  # letters only, not the full stop
    assert languages.units(SAMPLES["hi"], "hi") == 8  # vowel signs do not cut a Hindi word in three
    assert text.sentences("好咖啡。冲泡之前再研磨。") == ["好咖啡。", "冲泡之前再研磨。"]


def test_a_script_in_another_language_than_it_claims_is_found():
    assert "reads as English" in languages.mismatch("This is how you make good coffee at home with fresh beans", "es")
    assert languages.mismatch("Así se prepara un buen café en casa con los granos frescos", "es") is None
    assert "latin" in languages.mismatch("Así se prepara un buen café en casa con granos frescos", "ar")


def test_english_stop_words_do_not_cut_spanish_words():
    # "come" (eats), "once" (eleven) and "van" (go) are English filler words, not Spanish ones.
    spanish = text.content_words("Mi perro come once galletas cuando van al parque", "es")
    assert {"come", "once", "galletas", "parque"} <= set(spanish)
    assert "cuando" not in spanish and "al" not in spanish  # Spanish filler is dropped
    assert "come" not in text.content_words("Come and see the parrot", "en")
    assert text.stem("galletas", "es") == text.stem("galleta", "es")
    assert text.stem("Bohnen".lower(), "de") == text.stem("bohne", "de")


def test_caption_pages_join_cjk_without_spaces_and_count_wide_letters():
    units = subtitles.script_words([SAMPLES["zh"] + "冲泡之前再研磨咖啡豆。"], "zh")
    assert units[:3] == ["好", "咖", "啡"] and units[11] == "始。"  # punctuation stays on its letter
    words = [{"word": u, "start": i * 0.2, "end": i * 0.2 + 0.18} for i, u in enumerate(units)]
    pages = subtitles.pages(words, max_chars=16)
    lines = [subtitles._text(line) for page in pages for line in page]
    assert lines[0] == "好咖啡从新鲜的咖啡豆" or len(lines[0]) * 1.7 <= 17
    assert all(" " not in line for line in lines)
    assert "".join(lines) == SAMPLES["zh"] + "冲泡之前再研磨咖啡豆。"


def test_alignment_matches_chinese_letter_by_letter_whatever_whisper_grouped():
    units = subtitles.script_words([SAMPLES["zh"]], "zh")
    heard = [{"word": "好咖啡", "start": 0.0, "end": 0.6}, {"word": "从新鲜的", "start": 0.6, "end": 1.2},
             {"word": "咖啡豆开始", "start": 1.2, "end": 2.0}]
    aligned, share = subtitles.align(units, heard, "zh")
    assert share == 1.0
    assert [w["word"] for w in aligned] == units
    assert aligned[3]["start"] >= 0.6 - 1e-9 and aligned[-1]["end"] <= 2.0 + 1e-9


def test_arabic_ass_lets_libass_find_the_direction_and_names_an_arabic_font(tmp_path):
    words = [{"word": w, "start": i * 0.5, "end": i * 0.5 + 0.4} for i, w in enumerate(SAMPLES["ar"].split())]
    subtitles.write_ass(words, tmp_path / "ar.ass", 1080, 1920)
    style = next(line for line in (tmp_path / "ar.ass").read_text(encoding="utf-8").splitlines() if line.startswith("Style:"))
    assert style.split(",")[1] == "Noto Naskh Arabic" and style.endswith(",-1")
    english = [{"word": "Hello", "start": 0, "end": 0.4}]
    subtitles.write_ass(english, tmp_path / "en.ass", 1080, 1920)
    assert ",DejaVu Sans," in (tmp_path / "en.ass").read_text() and (tmp_path / "en.ass").read_text().count(",1\n") >= 1


def _cmap(path: str, index: int = 0) -> set[int]:
    from fontTools.ttLib import TTCollection, TTFont

    font = TTCollection(path).fonts[index] if path.lower().endswith(".ttc") else TTFont(path, lazy=True)
    return set(font.getBestCmap())


def _missing(value: str, path: str, index: int = 0) -> list[str]:
    cmap = _cmap(path, index)
    return [c for c in value if not c.isspace() and ord(c) not in cmap and c not in "\u200d\ufe0f"]


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_every_script_gets_a_font_with_each_glyph(language):
    """No missing-glyph box anywhere: cards draw each run with fonts.font_for, thumbnails with pick_font,
    captions with the family libass is told to use (fc-match resolves it to a file)."""
    from PIL import features

    from creator_tools.media import thumbnail

    assert features.check("raqm"), "Pillow has no Raqm layout: install libraqm0 (requirements-apt.txt)"
    sample = SAMPLES[language]
    for script, piece in fonts.runs(sample):
        found = fonts.font_for(script)
        assert not _missing(piece, found.path, found.index), f"{script} run {piece!r} in {found.path}"
    if language != "emoji":  # thumbnails draw titles in one font: it must have every letter
        path, complete = thumbnail.pick_font(sample)
        assert complete and not _missing(sample, path), path
        family = fonts.family_for(sample) or "DejaVu Sans"
        done = subprocess.run(["fc-match", "-f", "%{file}|%{index}", family], capture_output=True, text=True)
        file, _, index = done.stdout.partition("|")
        for char in _missing(sample, file, int(index or 0)):  # libass asks fontconfig for a font that has it
            other = subprocess.run(["fc-match", "-f", "%{file}|%{index}", f"{family}:charset={ord(char):x}"],
                                   capture_output=True, text=True).stdout
            assert not _missing(char, other.partition("|")[0], int(other.partition("|")[2] or 0)), (family, char)


def _ink_width(image) -> int:
    box = image.convert("L").point(lambda v: 255 if v > 128 else 0).getbbox()
    return box[2] - box[0]


def test_burned_arabic_captions_shape_lam_before_lam_alef_whole(tmp_path):
    """libass drew Noto Sans Arabic's "للأشخاص" with a missing-glyph box between its two lams (the cmap has
    every letter, so only drawing shows it). Measured as the word's width against a word without the ligature,
    in libass and in Pillow's Raqm (which shapes it right) with the same font file: a box makes libass's
    ratio ~18% wider; whole, the two agree within a few per cent."""
    from PIL import Image, ImageFont

    family = fonts.family_for("للأشخاص الذين")
    path = subprocess.run(["fc-match", "-f", "%{file}", family], capture_output=True, text=True).stdout

    def libass(word: str) -> int:
        ass = tmp_path / "word.ass"
        ass.write_text(
            "[Script Info]\nScriptType: v4.00+\nPlayResX: 1080\nPlayResY: 400\n\n[V4+ Styles]\nFormat: Name, Fontname, "
            "Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, "
            "ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n"
            f"Style: C,{family},80,&H00FFFFFF,&H00FFFFFF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,0,0,5,10,10,10,-1\n\n"
            "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
            f"Dialogue: 0,0:00:00.00,0:00:01.00,C,,0,0,0,,{word}\n", encoding="utf-8")
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=black:s=1080x400:d=1",
                        "-vf", f"subtitles={ass}", "-frames:v", "1", str(tmp_path / "word.png")], check=True)
        return _ink_width(Image.open(tmp_path / "word.png"))

    def raqm(word: str) -> int:
        box = ImageFont.truetype(path, 80, layout_engine=ImageFont.Layout.RAQM).getbbox(word, direction="rtl")
        return box[2] - box[0]

    drawn = libass("للأشخاص") / libass("الذين")
    shaped = raqm("للأشخاص") / raqm("الذين")
    assert drawn / shaped < 1.10, (family, path, drawn, shaped)


def test_voices_follow_the_language():
    assert tts.speaking_engine("piper", None, "en") == "piper"
    assert tts.speaking_engine("piper", None, "es") == "espeak"  # the bundled Piper voice speaks English only
    assert tts.speaking_engine("piper", "/voices/es_ES-x.onnx", "es") == "piper"  # a chosen voice is kept
    assert tts.rate_for("piper", "en") == tts.WORDS_PER_MINUTE["piper"]
    assert tts.rate_for("piper", "es") == tts.RATES[("espeak", "es")]
    assert tts.rate_for("openai", "zh") == tts.FALLBACK_RATE["characters"]


def test_espeak_refuses_to_spell_out_chinese_and_a_chosen_voice_must_speak_the_language(tmp_path):
    records = [{"id": "zh", "script": {"language": "zh", "segments": [{"text": SAMPLES["zh"], "visual": "", "on_screen": ""}]}},
               {"id": "ar-en", "script": {"language": "ar", "segments": [{"text": SAMPLES["ar"], "visual": "", "on_screen": ""}]}}]
    env = {"CS_OUT_DIR": str(tmp_path / "out"), "PATH": str(BIN) + ":/usr/bin:/bin"}
    done = subprocess.run([str(BIN / "cs-voice"), "-k"], input=json.dumps(records[0]) + "\n", capture_output=True,
                          text=True, env=env, cwd=tmp_path)
    assert done.returncode == 3 and "English letter names" in done.stderr and "--engine openai" in done.stderr
    assert "speaking zh with espeak-ng" in done.stderr  # the one line that says which engine speaks
    done = subprocess.run([str(BIN / "cs-voice"), "-k", "--engine", "espeak", "--voice", "en-us"],
                          input=json.dumps(records[1]) + "\n", capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 3 and "--voice en-us" in done.stderr and "does not speak script.language 'ar'" in done.stderr
    assert "Traceback" not in done.stderr
