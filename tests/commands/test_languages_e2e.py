"""Hand-written one-sentence scripts in Spanish, German, Arabic, Hindi and Japanese through cs-voice,
cs-caption, cs-visuals (cards), cs-render and cs-thumb on the offline engines: espeak-ng speaks them (the
bundled Piper voice is English), the multilingual whisper base times them, captions show the script's own
words. One pipeline run for all five (one whisper load); each language is checked on its own."""

from __future__ import annotations

import re
import subprocess

import pytest

from media_fixtures import run_cs, script_record

SCRIPTS = {
    "es": "El buen café empieza con granos frescos.",
    "de": "Guter Kaffee beginnt mit frischen Bohnen.",
    "ar": "القهوة الجيدة تبدأ بحبوب طازجة.",
    "hi": "अच्छी कॉफी ताज़ी फलियों से शुरू होती है।",
    "ja": "おいしい コーヒーは あたらしい まめから はじまります。",  # kana: espeak-ng has no kanji dictionary
}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    folder = tmp_path_factory.mktemp("languages")
    records = [{**script_record([text], record_id=f"coffee-{lang}", language=lang), "topic": "coffee",
                "title": text.rstrip(".।。")} for lang, text in SCRIPTS.items()]
    done = run_cs("voice", records, cwd=folder)
    assert done.code == 0, done.stderr
    captioned = run_cs("caption", done.records, cwd=folder)
    assert captioned.code == 0, captioned.stderr
    rendered = run_cs("visuals", captioned.records, cwd=folder)
    rendered = run_cs("render", rendered.records, cwd=folder)
    assert rendered.code == 0, rendered.stderr
    thumbed = run_cs("thumb", rendered.records, cwd=folder)
    assert thumbed.code == 0, thumbed.stderr
    heard = dict(re.findall(r"record coffee-(\w+): whisper heard (\d+)%", captioned.stderr))
    return {"records": {r["id"].split("-")[1]: r for r in thumbed.records}, "voice": done.stderr,
            "heard": heard, "folder": folder}


@pytest.mark.slow
@pytest.mark.parametrize("language", sorted(SCRIPTS))
def test_a_script_in_each_language_becomes_a_captioned_video(pipeline, language):
    record = pipeline["records"][language]
    assert record["voice"]["engine"] == "espeak" and record["voice"]["duration_s"] > 1
    assert f"speaking {language} with espeak-ng" in pipeline["voice"]
    captions = record["captions"]
    assert captions["language"] == language
    # the viewer reads what the script says (whisper's timings, the script's words)
    joiner = "" if language == "ja" else " "
    assert joiner.join(w["word"] for w in captions["words"]) == SCRIPTS[language].replace(" ", joiner)
    starts = [w["start"] for w in captions["words"]]
    assert starts == sorted(starts) and captions["words"][-1]["end"] <= record["voice"]["duration_s"] + 0.5
    assert language in pipeline["heard"]  # the share matched before alignment is reported
    assert all(shot["kind"] == "card" for shot in record["visuals"])
    assert record["video"]["duration_s"] >= record["voice"]["duration_s"] - 0.1
    frame = pipeline["folder"] / f"{language}.png"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", "1", "-i", record["video"]["path"], "-frames:v", "1",
                    str(frame)], check=True)
    assert frame.stat().st_size > 10_000
    assert record["thumb"]["path"].endswith(".jpg")
    if language == "ar":  # right to left: libass finds the base direction itself
        assert open(captions["ass"], encoding="utf-8").read().count(",-1\n") == 1
