"""cs-visuals on real records: WAVs made by ffmpeg with hand-timed caption words (fast), or the whole
cs-voice | cs-caption chain with the bundled piper voice and whisper model (slow). Library files are real
images and clips with one colour per keyword; cards are checked as PNGs by Pillow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from media_fixtures import run_cs, script_record

from creator_tools.media.library import content_words, stem
from creator_tools.text import sentences as split_sentences

ROOT = Path(__file__).resolve().parents[2]
WORD_S = 0.3  # each hand-timed word lasts this long
PAUSE_S = 0.5  # silence after each sentence
COLOURS = {"ocean": (20, 90, 220), "coffee": (120, 70, 30), "mountain": (40, 160, 60), "ocean2": (10, 200, 230)}

SEGMENTS = [
    {"text": "The ocean is wide and deep.", "visual": "sea"},
    {"text": "Fresh coffee smells wonderful in the morning, and a warm cup wakes everyone in the house up slowly "
             "before the long working day begins.", "visual": "kitchen"},
    {"text": "Go!", "visual": "hurry"},
    {"text": "Climbers reach the mountain summit at dawn.", "visual": "peak"},
    {"text": "That is all for today.", "visual": ""},
]


def ffmpeg(*args: str) -> None:
    done = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error", *args],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def narrated(folder: Path, segments: list[dict], record_id: str = "vis1", fmt: str = "short") -> dict:
    """A record whose caption words speak SEGMENTS sentence by sentence (WORD_S each, PAUSE_S between
    sentences) and whose voice is a real WAV of exactly that length."""
    words, at = [], 0.25
    for segment in segments:
        for sentence in split_sentences(segment["text"]):
            for token in sentence.split():
                words.append({"word": token, "start": round(at, 3), "end": round(at + WORD_S - 0.04, 3)})
                at += WORD_S
            at += PAUSE_S
    duration = round(at + 0.3, 3)
    wav = folder / f"{record_id}.wav"
    ffmpeg("-f", "lavfi", "-i", f"sine=frequency=220:sample_rate=22050:duration={duration}", "-ac", "1", str(wav))
    record = script_record([s["text"] for s in segments], record_id=record_id, fmt=fmt)
    for target, source in zip(record["script"]["segments"], segments):
        target["visual"] = source["visual"]
    record["topic"] = "a day by the sea"
    record["voice"] = {"engine": "espeak", "voice": "en", "path": str(wav), "duration_s": duration, "segments": []}
    record["captions"] = {"language": "en", "words": words, "srt": None, "vtt": None, "ass": None}
    return record


def sentence_spans(record: dict) -> list[tuple[str, float, float]]:
    """(sentence, first word start, last word end) as the caption words speak them."""
    words = iter(record["captions"]["words"])
    spans = []
    for segment in record["script"]["segments"]:
        for sentence in split_sentences(segment["text"]):
            spoken = [next(words) for _ in sentence.split()]
            spans.append((sentence, spoken[0]["start"], spoken[-1]["end"]))
    return spans


def make_library(folder: Path, names: dict[str, str]) -> Path:
    """Solid-colour stills: file name -> colour keyword (COLOURS)."""
    from PIL import Image

    library = folder / "library"
    library.mkdir(exist_ok=True)
    for name, colour in names.items():
        Image.new("RGB", (640, 480), COLOURS[colour]).save(library / name)
    return library


def colour_of(path: str) -> tuple[int, int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.convert("RGB").resize((1, 1), Image.BOX).getpixel((0, 0))


def check_coverage(record: dict, shots: list[dict], min_shot: float = 1.5, max_shot: float = 6.0) -> None:
    duration = record["voice"]["duration_s"]
    assert shots[0]["start"] == 0
    assert shots[-1]["end"] == pytest.approx(duration, abs=1e-3)
    for before, after in zip(shots, shots[1:]):
        assert before["end"] == after["start"]
    for shot in shots:
        assert min_shot - 1e-6 <= shot["end"] - shot["start"] <= max_shot + 1e-6, shot


# --- fast: hand-timed words over a real WAV ----------------------------------------------------------------


@pytest.fixture
def record(tmp_path):
    return narrated(tmp_path, SEGMENTS)


def test_shots_cover_the_voice_and_follow_the_sentences(tmp_path, record):
    run = run_cs("visuals", [record], cwd=tmp_path)
    assert run.code == 0, run.stderr
    shots = run.records[0]["visuals"]
    check_coverage(record, shots)
    spans = sentence_spans(record)
    starts = [s["start"] for s in shots]
    # a sentence long enough for its own shot starts one where its first word is spoken
    for number, (sentence, start, end) in enumerate(spans[1:], 1):
        if end - start >= 1.5 and spans[number - 1][2] - spans[number - 1][1] >= 1.5:
            assert start in starts, (sentence, start, starts)
    # "Go!" (0.3 s) joined a neighbour; the long coffee sentence was split, after its comma
    assert not any(s["text"] == "Go!" for s in shots)
    assert any(s["text"].endswith("morning,") for s in shots), [s["text"] for s in shots]
    spoken = " ".join(s["text"] for s in shots).split()
    assert spoken == [w["word"] for w in record["captions"]["words"]]
    assert set(shots[0]) >= {"start", "end", "text", "query", "kind", "path", "provider", "asset_id", "url",
                             "author", "license", "synthetic"}


def test_min_and_max_shot(tmp_path, record):
    run = run_cs("visuals", [record], "--min-shot", "2", "--max-shot", "4", cwd=tmp_path)
    assert run.code == 0, run.stderr
    check_coverage(record, run.records[0]["visuals"], 2, 4)
    bad = run_cs("visuals", [record], "--min-shot", "3", "--max-shot", "5", cwd=tmp_path)
    assert bad.code == 2 and not bad.records
    assert bad.stderr.strip().splitlines() == [bad.stderr.strip()]
    assert "--max-shot" in bad.stderr and "twice" in bad.stderr


def test_each_query_comes_from_its_own_sentence(tmp_path, record):
    run = run_cs("visuals", [record], cwd=tmp_path)
    shots = run.records[0]["visuals"]
    segments = record["script"]["segments"]
    for shot in shots:
        query = shot["query"].split()
        assert 1 <= len(query) <= 3, shot
        assert shot["query"] in shot["queries"], shot
        own = set(content_words(shot["text"]))
        sentences = [s for seg in segments for s in split_sentences(seg["text"])
                     if any(w in s for w in shot["text"].split()[:1])]
        allowed = own | {w for s in sentences for w in content_words(s)} | {
            w for seg in segments for w in content_words(seg["visual"])} | set(content_words(record["topic"]))
        assert {stem(w) for w in query} <= {stem(w) for w in allowed}, shot
        assert {stem(w) for w in query} & {stem(w) for w in own} or not own, shot  # its own words first
    by_text = {s["text"]: s["query"] for s in shots}
    assert by_text["The ocean is wide and deep."] == "ocean"  # the noun, not "ocean wide deep"
    assert by_text["That is all for today."] == "sea"  # nothing to show, no hint: the topic's noun
    mountain = next(s for s in shots if "mountain" in s["text"])
    assert "mountain" in mountain["query"] and "coffee" not in mountain["query"]


def test_library_matches_each_sentence_then_cards_fill_the_rest(tmp_path, record):
    library = make_library(tmp_path, {"ocean-waves.png": "ocean", "cup.png": "coffee", "img001.png": "mountain"})
    (library / "cup.png.txt").write_text("coffee, espresso\n")  # sidecar tags
    (library / "tags.txt").write_text("img001.png: mountain, summit, alps\n")
    for args in (["--library", str(library)], ["--provider", "library,cards", "--library", str(library)]):
        run = run_cs("visuals", [record], *args, cwd=tmp_path)
        assert run.code == 0, run.stderr
        shots = run.records[0]["visuals"]
        check_coverage(record, shots)
        for keyword in ("ocean", "coffee", "mountain"):
            shot = next(s for s in shots if keyword in s["text"].lower())
            assert shot["provider"] == "library" and shot["kind"] == "still", shot
            assert colour_of(shot["path"]) == COLOURS[keyword]
            assert shot["asset_id"].startswith("library:") and not shot["synthetic"]
        last = shots[-1]
        assert "today" in last["text"] and last["provider"] == "cards" and last["kind"] == "card"
    env = run_cs("visuals", [record], cwd=tmp_path, env={"CS_LIBRARY": str(library)})
    assert [s["asset_id"] for s in env.records[0]["visuals"]] == [s["asset_id"] for s in shots]


def test_no_asset_twice_while_others_exist(tmp_path):
    segments = [{"text": "The ocean shines at noon.", "visual": ""}, {"text": "The ocean waves crash again.", "visual": ""}]
    record = narrated(tmp_path, segments, "twice")
    library = make_library(tmp_path, {"ocean-a.png": "ocean", "ocean-b.png": "ocean2"})
    run = run_cs("visuals", [record], "--library", str(library), cwd=tmp_path)
    ids = [s["asset_id"] for s in run.records[0]["visuals"]]
    assert sorted(ids) == ["library:ocean-a.png", "library:ocean-b.png"]
    (library / "ocean-b.png").unlink()
    run = run_cs("visuals", [record], "--library", str(library), cwd=tmp_path)
    assert [s["provider"] for s in run.records[0]["visuals"]] == ["library", "cards"]  # a card, not a repeat
    run = run_cs("visuals", [record], "--provider", "library", "--library", str(library), cwd=tmp_path)
    assert run.code == 0, run.stderr  # nothing else anywhere: a repeat beats a hole
    assert [s["asset_id"] for s in run.records[0]["visuals"]] == ["library:ocean-a.png"] * 2


def test_history_assets_are_avoided(tmp_path):
    segments = [{"text": "The ocean is calm tonight.", "visual": ""}]
    record = narrated(tmp_path, segments, "new")
    library = make_library(tmp_path, {"ocean-a.png": "ocean", "ocean-b.png": "ocean2"})
    first = run_cs("visuals", [record], "--library", str(library), cwd=tmp_path).records[0]["visuals"][0]["asset_id"]
    history = tmp_path / "published.jsonl"
    old = {"id": "old", "visuals": [{"asset_id": first, "path": "x"}]}
    history.write_text(json.dumps(old) + "\n" + "not json\n" + json.dumps({"id": "other", "title": "no visuals"}) + "\n")
    run = run_cs("visuals", [record], "--library", str(library), "--history", str(history), cwd=tmp_path)
    assert run.code == 0, run.stderr
    assert run.records[0]["visuals"][0]["asset_id"] not in (first,)
    assert run.records[0]["visuals"][0]["provider"] == "library"
    newer = {"id": "newer", "visuals": [{"asset_id": "library:unrelated.png", "path": "y"}]}
    history.write_text(history.read_text() + json.dumps(newer) + "\n")
    run = run_cs("visuals", [record], "--library", str(library), "--history", str(history), "--history-videos", "1",
                 cwd=tmp_path)
    assert run.records[0]["visuals"][0]["asset_id"] == first  # the old video is past the last one


def test_cards_are_frame_sized_pngs_with_a_picture_per_sentence(tmp_path):
    from PIL import Image

    segments = [{"text": "Fresh coffee in a cup.", "visual": ""}, {"text": "Rain falls on the mountain.", "visual": ""},
                {"text": "Save your money every month.", "visual": ""}]
    for fmt, size in (("short", (1080, 1920)), ("long", (1920, 1080))):
        record = narrated(tmp_path, segments, f"cards-{fmt}", fmt)
        run = run_cs("visuals", [record], cwd=tmp_path)
        assert run.code == 0, run.stderr
        shots = run.records[0]["visuals"]
        assert [s["provider"] for s in shots] == ["cards"] * 3
        for shot in shots:
            with Image.open(shot["path"]) as image:
                assert image.format == "PNG" and image.size == size
                image.verify()
        assert len({s["emoji"] for s in shots}) == 3
        assert [s["emoji"] for s in shots][:2] == ["☕", "🌧"]
        assert len({colour_of(s["path"]) for s in shots}) == 3  # the background changes from shot to shot
    square = run_cs("visuals", [record], "--preset", "square", cwd=tmp_path)
    with Image.open(square.records[0]["visuals"][0]["path"]) as image:
        assert image.size == (1080, 1080)


def _white_rows(path: Path) -> list[int]:
    """Rows of the image holding the phrase's white text (the gradients are never near white)."""
    from PIL import Image

    with Image.open(path) as image:
        grey = image.convert("RGB").point(lambda v: 255 if v > 245 else 0).convert("L").point(lambda v: 255 if v == 255 else 0)
        return [y for y in range(grey.height) if grey.crop((0, y, grey.width, y + 1)).getbbox()]


@pytest.mark.parametrize("size", [(1080, 1920), (1920, 1080), (1080, 1080)])
def test_a_cards_phrase_stays_above_the_burned_captions(tmp_path, size):
    """cs-render burns two caption lines at the bottom: a card's words end above them, however long."""
    from creator_tools.media import picture_cards, subtitles

    width, height = size
    layout = subtitles.ass_layout(width, height)
    caption_top = height - layout["margin_v"] - 2 * layout["size"] * 1.25
    for phrase in ("Coffee", "Urban bees-to-sleep together", "World truly special everyone together now always"):
        card = tmp_path / f"{width}x{height}-{len(phrase)}.png"
        picture_cards.draw_card(card, width, height, "🐝", phrase, 1)
        rows = _white_rows(card)
        assert rows and max(rows) < caption_top, (phrase, size, max(rows), caption_top)


def test_rerun_is_a_no_op(tmp_path, record):
    first = run_cs("visuals", [record], cwd=tmp_path)
    assert first.code == 0, first.stderr
    paths = [Path(s["path"]) for s in first.records[0]["visuals"]]
    stamps = [p.stat().st_mtime_ns for p in paths]
    again = run_cs("visuals", first.records, "--metrics", str(tmp_path / "m.prom"), cwd=tmp_path)
    assert again.code == 0 and again.records == first.records
    assert "cs_records_skipped_total{command=\"cs-visuals\"} 1" in (tmp_path / "m.prom").read_text()
    paths[0].unlink()  # a lost card is made again
    third = run_cs("visuals", first.records, cwd=tmp_path)
    assert third.records[0]["visuals"] == first.records[0]["visuals"] and paths[0].is_file()
    assert [p.stat().st_mtime_ns for p in paths[1:]] == stamps[1:]


def test_wrong_types_are_one_line_naming_the_key(tmp_path, record):
    bad = json.loads(json.dumps(record))
    bad["captions"]["words"] = "The ocean"
    run = run_cs("visuals", [bad], cwd=tmp_path)
    assert run.code == 1 and not run.records
    assert run.stderr.count("\n") == 1 and "captions.words" in run.stderr and "cs-caption" in run.stderr
    assert "Traceback" not in run.stderr
    late = json.loads(json.dumps(record))
    late["voice"]["duration_s"] = "long"
    run = run_cs("visuals", [bad, late, record], "-k", cwd=tmp_path)
    assert run.code == 3 and len(run.records) == 3
    assert "captions.words" in run.records[0]["_error"]["message"]
    assert "voice.duration_s" in run.records[1]["_error"]["message"]
    assert "visuals" in run.records[2]
    missing = {k: v for k, v in record.items() if k != "captions"}
    run = run_cs("visuals", [missing], cwd=tmp_path)
    assert run.code == 1 and "run cs-caption first" in run.stderr


def test_dry_run_names_the_providers_per_shot_and_makes_nothing(tmp_path, record):
    library = make_library(tmp_path, {"ocean.png": "ocean"})
    run = run_cs("visuals", [record], "--dry-run", "--library", str(library), cwd=tmp_path)
    assert run.code == 0 and run.records == [record]
    assert "shot 1 0.00-" in run.stderr and "ask library then cards" in run.stderr
    assert not (tmp_path / "cs-out").exists()
    unknown = run_cs("visuals", [record], "--provider", "library,nope", cwd=tmp_path)
    assert unknown.code == 2 and "nope" in unknown.stderr and "cards" in unknown.stderr


def test_jobs_give_the_same_shots_in_order(tmp_path):
    records = [narrated(tmp_path, SEGMENTS[k:k + 2], f"job{k}") for k in range(3)]
    library = make_library(tmp_path, {"ocean.png": "ocean", "cup-coffee.png": "coffee"})
    one = run_cs("visuals", records, "--library", str(library), cwd=tmp_path)
    many = run_cs("visuals", records, "-j", "3", "--force", "--library", str(library), cwd=tmp_path)
    assert one.code == many.code == 0, many.stderr
    assert [r["id"] for r in many.records] == ["job0", "job1", "job2"]
    assert [r["visuals"] for r in many.records] == [r["visuals"] for r in one.records]


def test_help_man_page_and_copied_names():
    from creator_tools.commands import visuals
    from creator_tools.engines import visuals as engine, visuals_library

    done = subprocess.run([str(Path(sys.executable).parent / "cs-visuals"), "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "Example" in done.stdout and "--history-videos" in done.stdout
    assert (ROOT / "man" / "cs-visuals.1").is_file()
    assert visuals.PROVIDERS_ENV == engine.PROVIDERS_ENV
    assert visuals.LIBRARY_ENV == visuals_library.LIBRARY_ENV


# --- slow: the real voice and captions -----------------------------------------------------------------------


@pytest.mark.slow
def test_real_voice_and_captions_give_a_shot_per_sentence(tmp_path):
    texts = ["The ocean glows at sunrise.", "A small boat sails toward the harbor.",
             "Then the fishermen carry their nets to the market."]
    voiced = run_cs("voice", [script_record(texts, record_id="real")], cwd=tmp_path)
    assert voiced.code == 0, voiced.stderr
    captioned = run_cs("caption", voiced.records, cwd=tmp_path)
    assert captioned.code == 0, captioned.stderr
    record = captioned.records[0]
    run = run_cs("visuals", [record], "--min-shot", "1", "--max-shot", "8", cwd=tmp_path)
    assert run.code == 0, run.stderr
    shots = run.records[0]["visuals"]
    check_coverage(record, shots, 1, 8)
    assert [s["text"] for s in shots] == texts
    words = record["captions"]["words"]
    firsts = [next(w["start"] for w in words if w["word"] == text.split()[0]) for text in texts]
    assert [s["start"] for s in shots[1:]] == pytest.approx(firsts[1:], abs=0.01)
    assert [s["emoji"] for s in shots][0] == "🌊" and len({s["emoji"] for s in shots}) == 3


# --- rate limits: a provider package added through the entry point group, as a plugin would be --------------

GATED_PROVIDER = '''
import os
from creator_tools.engines.visuals import Provider, RateLimited


class GatedProvider(Provider):
    """A network provider whose API refuses while the file named by $GATE exists, and finds nothing after."""

    name = "gated"
    network = True

    def find(self, shot, avoid):
        with open(os.environ["GATE_LOG"], "a") as log:
            log.write(shot.query + "\\n")
        if os.path.exists(os.environ["GATE"]):
            raise RateLimited("429 Too Many Requests; Retry-After: 3600")
        return None
'''


def plugin(folder: Path) -> dict:
    """Environment under which `gated` is a visuals provider (an installed plugin's entry point)."""
    (folder / "gated_provider.py").write_text(GATED_PROVIDER)
    info = folder / "gated_provider-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gated-provider\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[creator_tools.visuals]\ngated = gated_provider:GatedProvider\n")
    return {"PYTHONPATH": str(folder), "GATE": str(folder / "closed"), "GATE_LOG": str(folder / "asked.log")}


def test_every_network_provider_rate_limited_defers_then_finishes(tmp_path, record):
    env = plugin(tmp_path)
    Path(env["GATE"]).touch()
    library = make_library(tmp_path, {"ocean.png": "ocean"})
    args = ["--provider", "library,gated,cards", "--library", str(library)]
    run = run_cs("visuals", [record], *args, cwd=tmp_path, env=env)
    assert run.code == 4, run.stderr
    error = run.records[0]["_error"]
    assert error["retryable"] and error["command"] == "cs-visuals" and "gated" in error["message"]
    assert "visuals" not in run.records[0]
    asked = Path(env["GATE_LOG"]).read_text().split("\n")
    assert "ocean wide deep" not in asked  # the library answered that shot first
    assert not list((tmp_path / "cs-out").rglob("*.png"))  # no cards for shots a rate limit held back
    Path(env["GATE"]).unlink()  # the quota is back: the deferred record, fed back, finishes
    again = run_cs("visuals", run.records, *args, cwd=tmp_path, env=env)
    assert again.code == 0, again.stderr
    shots = again.records[0]["visuals"]
    assert "_error" not in again.records[0]
    assert shots[0]["provider"] == "library" and {s["provider"] for s in shots[1:]} == {"cards"}
    check_coverage(record, shots)


@pytest.mark.parametrize("variables, named", [
    ({"CS_PEXELS_URL": "notaurl", "PEXELS_API_KEY": "k"}, "CS_PEXELS_URL='notaurl' is not an http:// or https:// URL"),
    ({"CS_PIXABAY_URL": "ftp://x", "PIXABAY_API_KEY": "k"}, "CS_PIXABAY_URL='ftp://x' is not an http:// or https:// URL"),
    ({"CS_IMAGES_BASE_URL": "localhost:8080", "CS_IMAGES_API_KEY": "k", "CS_VISUALS": "images,cards"},
     "CS_IMAGES_BASE_URL='localhost:8080' is not an http:// or https:// URL")])
def test_a_base_url_that_is_no_url_is_one_config_line(tmp_path, record, variables, named):
    """A mistyped base URL is said once, naming its variable, before any record: not an "unknown url type"
    error per record."""
    second = {**record, "id": "vis2"}
    run = run_cs("visuals", [record, second], "-k", cwd=tmp_path, env=variables)
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.code == 1 and len(lines) == 1 and named in lines[0], run.stderr
    assert not list((tmp_path / "cs-out").rglob("*.png"))


def test_library_refuses_a_clip_whose_frames_do_not_decode(tmp_path):
    """Issue 14 item 5: a truncated MP4 probes fine (its moov says 6 s) and used to be picked, then spun
    cs-render's ffmpeg forever. Its first frame is decoded now: it is passed over, with one warning."""
    from media_fixtures import truncated_mp4

    segments = [{"text": "The ocean shines at noon.", "visual": ""}]
    record = narrated(tmp_path, segments, "broken")
    library = make_library(tmp_path, {"ocean.png": "ocean"})
    (library / "ocean-clip.mp4").write_bytes(truncated_mp4(tmp_path).read_bytes())  # a clip would win the tie
    run = run_cs("visuals", [record], "--library", str(library), cwd=tmp_path)
    assert run.code == 0, run.stderr
    assert [s["asset_id"] for s in run.records[0]["visuals"]] == ["library:ocean.png"]
    assert "ocean-clip.mp4: not a usable clip (no frame decodes" in run.stderr, run.stderr
