"""cs-visuals' search terms (issue 16) against the loopback Pexels server of tests/visuals_server.py, which
answers by query (a query without one of its keywords finds nothing): each sentence's shot is footage of
its own picturable word, or of its segment's hint when it has none; stock shots keep alternatives; a
`replace` set in review swaps just that shot; another video of the same CS_OUT_DIR gets fresh footage.
Hand-timed caption words over a real WAV (test_visuals.narrated), so no speech engine runs."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from media_fixtures import run_cs  # noqa: E402
from test_visuals import colour_of, narrated  # noqa: E402
from visuals_server import Catalog, Faults, VisualsServer, nearest_keyword  # noqa: E402

# (sentence, the word a viewer pictures or None, the segment's hint). The hints of the first ones name
# another keyword, so a shot that fell back to its hint would show the wrong colour.
SEGMENTS = [
    ("Before bed a sleepy cat curls up on the rug.", "cat", "night"),
    ("Suddenly everything outside turns into fire.", "fire", "snow"),
    ("Beautiful flowering rose bushes survive somehow.", "rose", "forest"),
    ("The city wakes up before anyone notices.", "city", "sunset"),
    ("A tiny bird sings outside the kitchen window.", "bird", "coffee"),
    ("Across the desert, a lonely camel keeps walking.", "camel", "ocean"),
    ("Remember, consistency matters more than intensity.", None, "forest"),
    ("That is all for today.", None, "sunset"),
]
ALTERNATIVE_KEYS = {"provider", "asset_id", "kind", "url", "preview", "author", "license", "duration_s"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with VisualsServer(tmp_path_factory.mktemp("visuals-server")) as running:
        yield running


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("terms")


def record_for(folder: Path, record_id: str) -> dict:
    record = narrated(folder, [{"text": text, "visual": hint} for text, _, hint in SEGMENTS], record_id=record_id)
    record["topic"] = "quiet evenings"
    return record


def visuals(server, records, folder: Path, *args, catalog: Catalog | None = None):
    server.faults, server.catalog = Faults(), catalog or Catalog()
    server.reset_counts()
    return run_cs("visuals", records, "--provider", "pexels,cards", *args, cwd=folder,
                  env=server.env(CS_OUT_DIR=str(folder / "out"), CS_VISUALS_TRIES="2"))


def keyword_shown(folder: Path, shot: dict) -> str:
    path = shot["path"]
    if path.endswith(".mp4"):
        import subprocess

        frame = folder / f"{Path(path).stem}.png"
        done = subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", path, "-frames:v", "1", str(frame)],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        path = str(frame)
    return nearest_keyword(colour_of(path))


@pytest.fixture(scope="module")
def first(server, work):
    """The first video's shot list (one run, shared by the tests below)."""
    run = visuals(server, [record_for(work, "terms1")], work)
    assert run.code == 0, run.stderr
    return run.records[0]


def test_each_shot_shows_its_own_picturable_word_or_its_hint(first, work):
    shots = first["visuals"]
    assert len(shots) == len(SEGMENTS)
    for shot, (text, word, hint) in zip(shots, SEGMENTS):
        assert shot["text"] == text
        expected = word or hint
        assert shot["provider"] == "pexels" and keyword_shown(work, shot) == expected, shot
        assert expected in shot["query"] and len(shot["query"].split()) <= 3, shot
        assert shot["queries"][-1] == shot["query"] or shot["query"] in shot["queries"], shot
    assert shots[0]["queries"] == ["sleepy cat"] and shots[0]["query"] == "sleepy cat"
    rose = shots[2]  # "flowering rose bush" finds rose footage (the server matches any of a query's words)
    assert "rose" in rose["query"]
    assert shots[6]["queries"][0] == "forest" and shots[7]["queries"][0] == "sunset"  # nothing to picture


def test_a_shot_whose_noun_has_no_footage_cascades_to_its_hint(server, tmp_path):
    catalog = Catalog()
    for table in (catalog.pexels_videos, catalog.pexels_photos):
        table.pop("cat")
    record = narrated(tmp_path, [{"text": SEGMENTS[0][0], "visual": "night"}], record_id="cascade")
    run = visuals(server, [record], tmp_path, catalog=catalog)
    assert run.code == 0, run.stderr
    shot = run.records[0]["visuals"][0]
    # fewer words, the sentence's other nouns, then the hint; the topic and cards were not needed
    assert shot["queries"] == ["sleepy cat", "cat", "bed", "rug", "night"], shot
    assert shot["query"] == "night" and keyword_shown(tmp_path, shot) == "night"


def test_stock_shots_carry_ranked_alternatives(first):
    for shot in first["visuals"]:
        alternatives = shot["alternatives"]
        assert 1 <= len(alternatives) <= 3, shot
        for alternative in alternatives:
            assert ALTERNATIVE_KEYS <= set(alternative), alternative
            assert alternative["provider"] == "pexels" and alternative["asset_id"] != shot["asset_id"]
            assert alternative["link"].startswith("http://127.0.0.1") and alternative["preview"]
        assert len({a["asset_id"] for a in alternatives}) == len(alternatives)
        # the chosen clip covers its shot (the catalog's clips last 2, 6 and 4 s): no frozen last frame
        if shot["kind"] == "clip":
            assert shot["duration_s"] >= shot["end"] - shot["start"] - 0.05, shot


def test_a_replace_from_review_swaps_just_that_shot(server, first, work):
    reviewed = copy.deepcopy(first)
    chosen = copy.deepcopy(reviewed["visuals"][1]["alternatives"][0])
    reviewed["visuals"][1]["replace"] = chosen
    reviewed["visuals"][4]["replace"] = {"kind": "card"}
    run = visuals(server, [reviewed], work)
    assert run.code == 0, run.stderr
    shots = run.records[0]["visuals"]
    assert server.count("pexels") == 0  # no search: only the chosen file was fetched
    assert all("replace" not in shot for shot in shots)
    assert shots[1]["asset_id"] == chosen["asset_id"] and keyword_shown(work, shots[1]) == "fire"
    assert first["visuals"][1]["asset_id"] in {a["asset_id"] for a in shots[1]["alternatives"]}  # put aside
    assert chosen["asset_id"] not in {a["asset_id"] for a in shots[1]["alternatives"]}
    assert shots[4]["kind"] == "card" and shots[4]["emoji"] == "🐦"  # the head noun's picture
    for number in (0, 2, 3, 5, 6, 7):
        assert shots[number] == first["visuals"][number]
    again = run_cs("visuals", run.records, "--provider", "pexels,cards", cwd=work,
                   env=server.env(CS_OUT_DIR=str(work / "out")))
    assert again.code == 0 and again.records == run.records, again.stderr  # swapped: nothing left to do


def test_a_replace_typed_by_hand_is_refused(server, first, work):
    forged = copy.deepcopy(first)
    forged["visuals"][0]["replace"] = {"provider": "pexels", "asset_id": "pexels:video:1", "kind": "clip",
                                       "link": "http://127.0.0.1:1/elsewhere.mp4"}
    run = visuals(server, [forged], work, "-k")
    assert run.code == 3
    assert "visuals[0].replace is neither one of that shot's alternatives" in run.stderr
    assert "Traceback" not in run.stderr and "_error" in run.records[0]


def test_another_video_of_the_same_out_dir_gets_fresh_footage(server, first, work):
    ledger = work / "out" / "cache" / "visuals-used.json"
    # what the first video uses now (a swap above may have freed one of its first assets)
    before = {a for a, use in json.loads(ledger.read_text()).items() if use["record"] == "terms1"}
    assert before and before <= {s["asset_id"] for s in first["visuals"]} | {
        a["asset_id"] for s in first["visuals"] for a in s["alternatives"]}
    second = visuals(server, [record_for(work, "terms2")], work)
    assert second.code == 0, second.stderr
    after = [s["asset_id"] for s in second.records[0]["visuals"]]
    assert not before & set(after), (before, after)
    assert {json.loads(ledger.read_text())[a]["record"] for a in after} == {"terms2"}
    again = visuals(server, [record_for(work, "terms3")], work, "--fresh-days", "0")
    assert again.code == 0, again.stderr
    assert before & {s["asset_id"] for s in again.records[0]["visuals"]}  # not avoided: the best again


@pytest.mark.slow
def test_terms_an_llm_suggests_are_kept_only_when_they_share_a_stem(tmp_path, openai_server):
    from creator_tools.text import content_words, stem

    record = narrated(tmp_path, [{"text": text, "visual": hint} for text, _, hint in SEGMENTS[:3]], record_id="llm")
    record["topic"] = "quiet evenings"
    run = run_cs("visuals", [record], "--provider", "cards", "--engine", "openai", cwd=tmp_path, timeout=900,
                 env={"OPENAI_BASE_URL": openai_server, "OPENAI_API_KEY": "test", "CS_VISUALS_TERMS": "llm"})
    assert run.code == 0, run.stderr
    for shot, (text, _, hint) in zip(run.records[0]["visuals"], SEGMENTS):
        allowed = {stem(w) for w in content_words(f"{text} {hint} {record['topic']}")}
        assert shot["query"] and {stem(w) for w in shot["query"].split()} & allowed, shot
