"""cs-meta: YouTube's limits checked on real metadata written by the bundled local LLM (slow), --check on
hand-made bad metadata, schedules and categories from the command line."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from media_fixtures import run_cs  # noqa: E402

from creator_tools.youtube import metadata as limits  # noqa: E402

ESPRESSO = [
    ("Great espresso at home needs three things, not a thousand-dollar machine. Fresh beans, a good grinder, "
     "and a steady routine.", "Three things you need"),
    ("Start with beans roasted in the last month. Old beans lose the gases that make crema, so your shot "
     "tastes flat.", "Fresh beans"),
    ("A burr grinder matters more than the machine. Grind fine, and adjust a little at a time until a double "
     "shot takes about thirty seconds.", "Dial in the grind"),
    ("Tamp level, pull the shot, and taste. Sour means grind finer, bitter means coarser.", "Taste and adjust"),
]


def record(record_id: str, spans: list[tuple[float, float]] | None, *, title: str = "Espresso at Home Without the Fuss",
           topic: str = "home espresso", segments=ESPRESSO, engine: str | None = "piper", fmt: str = "long") -> dict:
    out = {
        "id": record_id, "topic": topic, "title": title, "format": fmt,
        "hook": "Great espresso at home needs three things, not a thousand-dollar machine.",
        "script": {"title": title, "language": "en", "cta": "Subscribe for more coffee basics.",
                   "segments": [{"text": t, "visual": "coffee", "on_screen": s} for t, s in segments]},
    }
    if spans is not None:
        voice = {"voice": "joe", "path": "voice.wav", "duration_s": spans[-1][1] + 0.3,
                 "segments": [{"start": a, "end": b} for a, b in spans]}
        if engine:
            voice["engine"] = engine
        out["voice"] = voice
    return out


def valid_meta() -> dict:
    return {"title": "Espresso at home", "description": "How to pull a good shot.", "tags": ["espresso"],
            "chapters": [], "category_id": "27", "language": "en", "privacy": "private", "publish_at": None,
            "made_for_kids": False, "synthetic_media": True, "playlist": None}


# --- the limits themselves (no model) -----------------------------------------------------------------------


def test_tags_are_counted_as_youtube_counts_them():
    assert limits.tags_length(["espresso", "home espresso"]) == 8 + 1 + 13 + 2
    many = [f"espresso tip number {n}" for n in range(60)]
    kept = limits.fit_tags(many + ["a<b>", "x,y", "#coffee", "espresso tip number 1"])
    assert limits.tags_length(kept) <= 500 < limits.tags_length(many)
    assert kept[:20] == many[:20] and "espresso tip number 20" not in kept  # in order, the rest dropped
    assert not any(c in "".join(kept) for c in "<>,#") and len({t.casefold() for t in kept}) == len(kept)


def test_chapters_merge_short_segments_and_need_three_of_ten_seconds():
    # 12 s, then 3 s (joins the one before), 15 s, 12 s.
    spans = [(0.2, 11.8), (12.1, 14.9), (15.2, 29.8), (30.1, 42.0)]
    chapters = limits.build_chapters(spans, ["A", "B", "C", "D"], 42.3)
    assert chapters == [{"start": 0, "title": "A"}, {"start": 12, "title": "B"}, {"start": 30, "title": "D"}]
    assert limits.violations({**valid_meta(), "chapters": chapters,
                              "description": "\n".join(limits.chapter_lines(chapters))}, duration_s=42.3) == []
    # A last chapter under 10 s joins the one before; then only two are left: no chapters at all.
    assert limits.build_chapters([(0, 11), (11, 22), (22, 26)], ["A", "B", "C"], 26) == []
    assert limits.build_chapters([(0, 4), (4, 8), (8, 12), (12, 16)], list("ABCD"), 16) == []


def test_relative_times_and_categories():
    now = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
    assert limits.rfc3339(limits.resolve_time("+2d", now)) == "2030-01-03T12:00:00Z"
    assert limits.rfc3339(limits.resolve_time("+1d6h30m", now)) == "2030-01-02T18:30:00Z"
    assert limits.resolve_time("tomorrow 17:00", now).astimezone().hour == 17
    assert limits.rfc3339(limits.resolve_time("2030-05-01T17:00:00+02:00", now)) == "2030-05-01T15:00:00Z"
    with pytest.raises(ValueError):
        limits.resolve_time("next tuesday-ish", now)
    assert [limits.category_id(c) for c in ("27", "education", "Science & Technology", "howto")] == ["27", "27", "28", "26"]
    with pytest.raises(ValueError, match="27 Education"):
        limits.category_id("cooking shows")


def test_fit_title_and_description_bytes():
    title = limits.fit_title("<b>" + "Word " * 40 + "</b>")
    assert len(title) <= 100 and "<" not in title and not title.endswith(" ")
    text = "ünïcödé " * 1000
    assert len(limits.fit_bytes(text, 5000).encode()) <= 5000


# --- command line, no model -------------------------------------------------------------------------------


def test_check_lists_every_violation_and_writes_nothing(tmp_path):
    bad = {**valid_meta(), "title": "<b>" + "x" * 120, "description": "y" * 5001, "tags": [f"tag number {n}" for n in range(60)],
           "chapters": [{"start": 3, "title": "A"}, {"start": 8, "title": "B"}], "category_id": "99",
           "privacy": "public", "publish_at": "2020-01-01T00:00:00Z", "synthetic_media": "yes"}
    del bad["made_for_kids"]
    records = [{"id": "good", "meta": valid_meta()}, {"id": "bad", "meta": bad}, {"id": "none"}]
    run = run_cs("meta", records, "--check", cwd=tmp_path)
    assert run.code == 3 and run.records == []
    lines = [line for line in run.stderr.splitlines() if "record bad:" in line]
    expected = ["meta.title: 123 characters", "meta.title: contains <", "meta.description: 5001 bytes",
                "meta.tags: 949 characters", "meta.chapters: the first starts at 0:03", "meta.chapters: 2 of them",
                "lasts 5 s", "meta.category_id: '99'", "meta.made_for_kids", "meta.synthetic_media",
                "is in the past", "YouTube schedules only private videos"]
    for text in expected:
        assert sum(text in line for line in lines) >= 1, (text, run.stderr)
    assert all(line.startswith("cs-meta: error: <stdin>:2: record bad: meta.") for line in lines)
    assert len(lines) == 13  # one line per violation (the chapter lines missing from the description too)
    assert "record good" not in run.stderr
    assert "<stdin>:3: record none: no 'meta' key; run cs-meta first" in run.stderr
    assert run.stderr.splitlines()[-1].startswith("cs-meta: error: 2 of 3 records break")

    fine = run_cs("meta", [{"id": "good", "meta": valid_meta()}], "--check", cwd=tmp_path)
    assert fine.code == 0 and fine.records == [] and "error" not in fine.stderr


@pytest.mark.parametrize("args, message", [
    (["--publish-at", "2020-01-01T00:00:00Z"], "is in the past"),
    (["--publish-at", "+2d", "--privacy", "public"], "--publish-at needs --privacy private"),
    (["--publish-at", "whenever"], "not a time"),
    (["--category", "cooking shows"], "unknown category"),
    (["--language", "english!"], "not a language code"),
])
def test_bad_options_are_usage_errors(tmp_path, args, message):
    run = run_cs("meta", [record("r", None)], *args, cwd=tmp_path)
    assert run.code == 2 and message in run.stderr and run.records == []


def test_record_without_script(tmp_path):
    run = run_cs("meta", [{"id": "x", "title": "t"}], cwd=tmp_path)
    assert run.code == 1 and "run cs-script first" in run.stderr


def test_unreachable_api_is_an_error_not_a_fallback(tmp_path, dead_api):
    run = run_cs("meta", [record("r", None)], cwd=tmp_path, env=dead_api)
    assert run.code == 1 and run.records == []
    assert "cannot reach the OpenAI-compatible API" in run.stderr and "OPENAI_BASE_URL" in run.stderr


def test_help_imports_no_model():
    code = ("import sys, creator_tools.commands.meta; "
            "print([m for m in ('llama_cpp', 'openai', 'numpy', 'PIL', 'jsonschema') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- the real local model ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """One cs-meta run (the model loads once) over: a long video with chapter-sized segments, a video too short
    for chapters (and a voice of unknown origin), and a record whose title and narration break every limit."""
    cwd = tmp_path_factory.mktemp("meta")
    long_spans = [(0.2, 11.8), (12.1, 14.9), (15.2, 29.8), (30.1, 42.0)]
    hostile_title = "<script>alert(1)</script> " + "Espresso secrets nobody tells you about " * 4
    records = [
        record("long", long_spans),
        record("short", [(0.1, 4.0), (4.2, 8.0), (8.2, 12.0), (12.2, 16.0)], engine=None),
        record("hostile", long_spans, title=hostile_title,
               topic="espresso " + " ".join(f"tip{n}" for n in range(300)),
               segments=[(("Espresso <b>needs</b> care. " * 60).strip(), "Part <one>")] + ESPRESSO[1:]),
    ]
    run = run_cs("meta", records, "--seed", "3", "--publish-at", "+2d", "--playlist", "Coffee basics",
                 cwd=cwd, timeout=1200)
    return cwd, records, run


@pytest.mark.slow
def test_meta_fits_youtube(written):
    cwd, records, run = written
    assert run.code == 0, run.stderr
    assert [r["id"] for r in run.records] == ["long", "short", "hostile"]
    for out in run.records:
        meta = out["meta"]
        assert limits.violations(meta, duration_s=out["voice"]["duration_s"]) == [], meta
        assert 0 < len(meta["title"]) <= 100 and "<" not in meta["title"] and ">" not in meta["title"]
        assert len(meta["description"].encode()) <= 5000 and "<" not in meta["description"]
        assert meta["tags"] and limits.tags_length(meta["tags"]) <= 500
        assert meta["made_for_kids"] is False  # explicit, not missing
        assert meta["privacy"] == "private" and meta["category_id"] == "27" and meta["language"] == "en"
        assert meta["playlist"] == "Coffee basics"
        when = limits.parse_time(meta["publish_at"])
        ahead = when - dt.datetime.now(dt.timezone.utc)
        assert dt.timedelta(days=1, hours=23) < ahead <= dt.timedelta(days=2)
        assert out["script"] == next(r for r in records if r["id"] == out["id"])["script"]  # passed through
    long, short, hostile = run.records
    assert long["meta"]["synthetic_media"] is True and short["meta"]["synthetic_media"] is False
    assert "#" in long["meta"]["description"]


@pytest.mark.slow
def test_chapters_only_when_the_video_allows_them(written):
    _, _, run = written
    long, short, _ = run.records
    chapters = long["meta"]["chapters"]
    assert [c["start"] for c in chapters] == [0, 12, 30]  # the 3-second segment joined the first chapter
    assert [c["title"] for c in chapters] == ["Three things you need", "Fresh beans", "Taste and adjust"]
    lines = long["meta"]["description"].splitlines()
    assert ["0:00 Three things you need", "0:12 Fresh beans", "0:30 Taste and adjust"] == [
        line for line in lines if line[:1].isdigit() and ":" in line.split()[0]]
    assert short["meta"]["chapters"] == [] and "0:00" not in short["meta"]["description"]


@pytest.mark.slow
def test_output_passes_check_and_reruns_skip(written):
    cwd, _, run = written
    check = run_cs("meta", run.records, "--check", cwd=cwd)
    assert check.code == 0, check.stderr
    again = run_cs("meta", run.records, "--seed", "3", "--publish-at", "+2d", "--playlist", "Coffee basics", cwd=cwd)
    assert again.code == 0 and again.records == run.records and again.seconds < 20


@pytest.mark.slow
def test_openai_engine_on_a_loopback_server(tmp_path, openai_server):
    run = run_cs("meta", [record("api", [(0.2, 11.8), (12.1, 24.9), (25.2, 39.8)])], "--engine", "openai",
                 "--category", "howto", cwd=tmp_path, env={"OPENAI_BASE_URL": openai_server, "OPENAI_API_KEY": "test"},
                 timeout=900)
    assert run.code == 0, run.stderr
    meta = run.records[0]["meta"]
    assert limits.violations(meta) == [] and meta["category_id"] == "26"
    assert [c["start"] for c in meta["chapters"]] == [0, 12, 25]
