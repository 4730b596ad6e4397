"""cs-translate through the loopback OpenAI-compatible server (llama.cpp serving the bundled SmolLM2: its
translations are poor, the plumbing is what is checked), then cs-publish on the loopback YouTube server:
an English video gets its es and de localizations and caption tracks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from creator_tools.media import subtitles
from media_fixtures import run_cs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_publish import env, make_record, media, outputs, publish, server  # noqa: E402,F401  (fixtures)

CUES = [(0.0, 1.5, "Good coffee starts with fresh beans."), (1.6, 3.2, "Grind them right before\nyou brew.")]


def english_record(media, folder: Path) -> dict:
    record = make_record(media, privacy="private", playlist=None, chapters=[], tags=["coffee", "fresh beans"],
                         title="Fresh Coffee at Home", description="Good coffee starts with fresh beans.\n\n#coffee")
    srt, vtt = folder / "en.srt", folder / "en.vtt"
    subtitles.write_cues(CUES, srt, vtt)
    record["captions"] = {"language": "en", "words": [], "srt": str(srt), "vtt": str(vtt), "ass": None}
    record["script"] = {"title": "Fresh coffee", "language": "en", "cta": "",
                        "segments": [{"text": "Good coffee starts with fresh beans.", "visual": "coffee beans",
                                      "on_screen": "Fresh beans"}]}
    return record


@pytest.mark.slow
def test_translate_then_publish_localizations_and_dub(openai_server, server, env, media, tmp_path):
    llm = {"OPENAI_BASE_URL": openai_server, "OPENAI_API_KEY": "local", "CS_LLM_SEED": "3"}
    record = english_record(media, tmp_path)
    done = run_cs("translate", [record], "--to", "es,de", cwd=tmp_path, env=llm)
    assert done.code == 0, done.stderr
    [out] = done.records
    assert sorted(out["translations"]) == ["de", "es"]
    for language, entry in out["translations"].items():
        assert 0 < len(entry["title"]) <= 100 and len(entry["description"].encode()) <= 5000
        assert entry["description"].endswith("#coffee")  # hashtag lines are kept as they are
        cues = subtitles.read_srt(entry["srt"])
        assert [(a, b) for a, b, _ in cues] == [(a, b) for a, b, _ in CUES]  # every cue keeps its timing
        assert all(t.strip() for _, _, t in cues) and cues[1][2].count("\n") == 1  # a two-line cue stays two lines
        assert Path(entry["vtt"]).read_text(encoding="utf-8").startswith("WEBVTT")
    # a re-run on its own output does nothing
    again = run_cs("translate", [out], "--to", "es,de", cwd=tmp_path, env=llm)
    assert again.records == [out]

    published = publish(server, env, [out])
    assert published.returncode == 0, published.stderr
    youtube = outputs(published)[0]["youtube"]
    assert youtube["localizations"] == ["de", "es"] and sorted(youtube["captions"]) == ["de", "en", "es"]
    resource = server.state.videos[youtube["video_id"]]["resource"]
    assert resource["localizations"]["es"]["title"] == out["translations"]["es"]["title"]

    dub = run_cs("translate", [record], "--to", "es", "--dub", cwd=tmp_path, env=llm)
    assert dub.code == 0, dub.stderr
    original, spanish = dub.records
    assert original["dubs"] == {"es": "rec-1-es"}
    assert spanish["id"] == "rec-1-es" and spanish["dubbed_from"] == "rec-1"
    assert spanish["script"]["language"] == "es" and spanish["script"]["segments"][0]["text"]
    assert "captions" not in spanish and "video" not in spanish and "meta" not in spanish
