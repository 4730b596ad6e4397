"""cs-visuals end to end with the network providers: the installed command in a subprocess, real espeak-ng
narration, the loopback Pexels/Pixabay/OpenAI-images server of tests/visuals_server.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from media_fixtures import espeak_narration, run_cs  # noqa: E402
from visuals_server import ALWAYS, Catalog, Faults, VisualsServer, keywords_in, nearest_keyword  # noqa: E402

SENTENCES = ["Fresh coffee starts every morning.", "The ocean rolls in at dawn.",
             "A quiet forest path waits.", "The desert glows at noon.", "Then a volcano wakes up."]


@pytest.fixture(scope="module")
def narrated(tmp_path_factory) -> dict:
    """One record with script, voice and captions for SENTENCES (one segment each), words spread evenly."""
    keys = espeak_narration(tmp_path_factory.mktemp("narration"), SENTENCES, name="voice.wav")
    return {"id": "net1", "topic": "a calm day", "format": "short",
            "script": {"title": "A calm day", "language": "en", "cta": "",
                       "segments": [{"text": t, "visual": "nature", "on_screen": ""} for t in SENTENCES]}, **keys}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with VisualsServer(tmp_path_factory.mktemp("visuals-server")) as running:
        yield running


@pytest.fixture
def api(server):
    server.faults, server.catalog = Faults(), Catalog()
    # Pexels has no desert: that sentence must come from Pixabay; nobody has a volcano: a card.
    server.catalog.pexels_videos.pop("desert")
    server.catalog.pexels_photos.pop("desert")
    server.reset_counts()
    return server


def visuals(api, record, tmp_path, *args, **env):
    return run_cs("visuals", [record], "--provider", "pexels,pixabay,cards", *args, cwd=tmp_path,
                  env=api.env(CS_VISUALS_TRIES="2", **env))


def colour(path: str) -> tuple[int, int, int]:
    from PIL import Image

    if path.endswith(".mp4"):
        frame = Path(path).with_suffix(".frame.png")
        done = subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", path, "-frames:v", "1", str(frame)],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        path = str(frame)
    with Image.open(path) as image:
        return image.convert("RGB").getpixel((image.width // 2, image.height // 2))


def test_each_shot_shows_what_its_sentence_names(api, narrated, tmp_path):
    run = visuals(api, narrated, tmp_path)
    assert run.code == 0, run.stderr
    shots = run.records[0]["visuals"]
    assert shots[0]["start"] == 0 and abs(shots[-1]["end"] - narrated["voice"]["duration_s"]) < 0.05
    assert all(a["end"] == b["start"] for a, b in zip(shots, shots[1:]))
    for item in shots:
        named = keywords_in(item["text"])
        if "volcano" in item["text"]:
            assert item["provider"] == "cards" and item["kind"] == "card"
        elif named:
            expected = "pixabay" if named[0] == "desert" else "pexels"
            assert item["provider"] == expected, item
            assert nearest_keyword(colour(str(tmp_path / item["path"]))) == named[0], item
            assert item["author"] and item["url"].startswith("https://") and item["synthetic"] is False
    # The fallback order: Pexels first, Pixabay where Pexels has nothing, a card where nobody has anything.
    assert [s["provider"] for s in shots] == ["pexels", "pexels", "pexels", "pixabay", "cards"]
    ids = [s["asset_id"] for s in shots]
    assert len(ids) == len(set(ids))  # never the same asset twice


def test_a_rerun_makes_zero_requests(api, narrated, tmp_path):
    first = visuals(api, narrated, tmp_path)
    assert first.code == 0, first.stderr
    api.reset_counts()
    again = visuals(api, narrated, tmp_path, "--force")
    assert again.code == 0, again.stderr
    assert api.count() == 0
    assert [s["path"] for s in again.records[0]["visuals"]] == [s["path"] for s in first.records[0]["visuals"]]


def test_429_moves_on_to_the_next_provider(api, narrated, tmp_path):
    api.faults.rate_limit["pexels"] = ALWAYS
    api.faults.retry_after = "0"
    run = visuals(api, narrated, tmp_path)
    assert run.code == 0, run.stderr
    providers = {s["provider"] for s in run.records[0]["visuals"]}
    assert "pexels" not in providers and "pixabay" in providers


def test_all_rate_limited_defers_then_finishes_when_fed_back(api, narrated, tmp_path):
    api.faults.rate_limit.update(pexels=ALWAYS, pixabay=ALWAYS)
    api.faults.retry_after = "0"
    run = visuals(api, narrated, tmp_path)
    assert run.code == 4, run.stderr
    error = run.records[0]["_error"]
    assert error["retryable"] is True and "visuals" not in run.records[0]
    api.faults.rate_limit.clear()
    again = visuals(api, run.records[0], tmp_path)
    assert again.code == 0, again.stderr
    assert "_error" not in again.records[0] and again.records[0]["visuals"]


def test_a_bad_key_is_one_line_naming_its_variable(api, narrated, tmp_path):
    run = visuals(api, narrated, tmp_path, PEXELS_API_KEY="wrong")
    assert run.code != 0
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "PEXELS_API_KEY" in lines[0] and "wrong" not in lines[0], run.stderr


def test_two_keys_rotate(api, narrated, tmp_path):
    run = visuals(api, narrated, tmp_path, PEXELS_API_KEY="pexels-key-1,pexels-key-2")
    assert run.code == 0, run.stderr
    assert set(api.keys_used("pexels")) == {"pexels-key-1", "pexels-key-2"}


def test_a_dropped_download_is_resumed(api, narrated, tmp_path):
    api.faults.drop_downloads = 2
    run = visuals(api, narrated, tmp_path)
    assert run.code == 0, run.stderr
    assert any(r["range"] for r in api.requests if r["service"] == "media")
    assert run.records[0]["visuals"][0]["provider"] == "pexels"


def test_generated_images_are_synthetic_and_fill_the_portrait_frame(api, narrated, tmp_path):
    from PIL import Image

    run = run_cs("visuals", [narrated], "--provider", "images,cards", "--image-model", "gpt-image-1", cwd=tmp_path,
                 env=api.env())
    assert run.code == 0, run.stderr
    generated = [s for s in run.records[0]["visuals"] if s["provider"] == "images"]
    assert generated and all(s["synthetic"] is True and s["kind"] == "still" for s in generated)
    path = generated[0]["path"]
    with Image.open(tmp_path / path) as image:  # paths are relative to the working directory (or absolute)
        assert image.size == (1080, 1920)


def _frame_colour(video: Path, at: float, folder: Path) -> tuple[int, int, int]:
    """The colour of the upper middle of the frame at AT seconds (captions sit lower down)."""
    from PIL import Image

    frame = folder / f"at-{at:.2f}.png"
    done = subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", f"{at:.3f}", "-i", str(video), "-frames:v", "1",
                           str(frame)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with Image.open(frame) as image:
        return image.convert("RGB").getpixel((image.width // 2, image.height // 4))


@pytest.mark.slow
def test_the_rendered_video_shows_what_each_sentence_names(api, narrated, tmp_path):
    """The issue's done line: cs-visuals against the loopback APIs piped into cs-render gives a video whose
    shots change with the sentences, each showing the keyword its own sentence names."""
    import os

    env = {**os.environ, **api.env(CS_VISUALS_TRIES="2"), "CS_OUT_DIR": str(tmp_path / "files"),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    (tmp_path / "in.jsonl").write_text(json.dumps(narrated) + "\n")
    done = subprocess.run(["bash", "-o", "pipefail", "-c", "cs-visuals --provider pexels,pixabay,cards < in.jsonl"
                           " | cs-render --preset short > out.jsonl"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "out.jsonl").read_text())
    video = Path(record["video"]["path"])
    assert abs(record["video"]["duration_s"] - narrated["voice"]["duration_s"]) < 0.3
    seen = []
    for shot in record["visuals"]:
        named = keywords_in(shot["text"])
        if shot["kind"] == "card" or not named:
            continue
        middle = (shot["start"] + shot["end"]) / 2
        seen.append(named[0])
        assert nearest_keyword(_frame_colour(video, middle, tmp_path)) == named[0], shot
    assert len(set(seen)) >= 3  # the picture changes with the sentences
