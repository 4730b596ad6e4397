"""cs-meta: YouTube's limits checked on real metadata written by the bundled local LLM (slow), --check on
hand-made bad metadata, schedules and categories from the command line."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from media_fixtures import run_cs  # noqa: E402

from creator_tools import text  # noqa: E402
from creator_tools.commands import meta as meta_cmd  # noqa: E402
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


def test_check_is_a_mode_of_the_stage_naming_every_violation(tmp_path):
    bad = {**valid_meta(), "title": "<b>" + "x" * 120, "description": "y" * 5001, "tags": [f"tag number {n}" for n in range(60)],
           "chapters": [{"start": 3, "title": "A"}, {"start": 8, "title": "B"}], "category_id": "99",
           "privacy": "public", "publish_at": "2020-01-01T00:00:00Z", "synthetic_media": "yes"}
    del bad["made_for_kids"]
    records = [{"id": "good", "meta": valid_meta()}, {"id": "bad", "meta": bad}, {"id": "none"},
               {"id": "hello", "meta": "hello"}]
    run = run_cs("meta", records, "--check", "-k", cwd=tmp_path)
    assert run.code == 3, run.stderr
    assert [r["id"] for r in run.records] == ["good", "bad", "none", "hello"]  # -k: every record checked
    assert run.records[0] == records[0]  # a good record passes through unchanged, unstamped
    lines = [line for line in run.stderr.splitlines() if "record bad:" in line]
    assert len(lines) == 1 and lines[0].startswith("cs-meta: error: <stdin>:2: record bad: meta breaks")
    expected = ["meta.title: 123 characters", "meta.title: contains <", "meta.description: 5001 bytes",
                "meta.tags: 949 characters", "meta.chapters: the first starts at 0:03", "meta.chapters: 2 of them",
                "lasts 5 s", 'meta.category_id: "99"', "meta.made_for_kids", "meta.synthetic_media",
                "is in the past", "YouTube schedules only private videos"]
    for text in expected:
        assert text in lines[0], (text, run.stderr)
    assert "record good" not in run.stderr
    assert "<stdin>:3: record none: record has no 'meta' key; run cs-meta first" in run.stderr
    assert "<stdin>:4: record hello: 'meta' is str 'hello', not an object" in run.stderr
    assert "meta.meta" not in run.stderr  # issue 10, bad input 14
    assert run.records[3]["_error"]["type"] == "BadInput"

    # -j works, and -o gets the records rather than being replaced by an empty file
    out = tmp_path / "checked.jsonl"
    fine = run_cs("meta", [{"id": f"g{n}", "meta": valid_meta()} for n in range(4)], "--check", "-j", "2",
                  "-o", str(out), cwd=tmp_path)
    assert fine.code == 0 and "error" not in fine.stderr, fine.stderr
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["g0", "g1", "g2", "g3"]
    stop = run_cs("meta", records, "--check", cwd=tmp_path)  # without -k the first bad record stops the run
    assert stop.code == 1 and [r["id"] for r in stop.records] == ["good"]  # as cs-publish --check


# --- repairs of what the bundled model wrote (issue 10, item 2), no model --------------------------------


@pytest.mark.parametrize("garbage, repaired", [
    ("sourdough\u201d \u201chome\u201d\u201c] {", "sourdough home"),
    ('["espresso"]', "espresso"),
    ("barista's tips", "barista's tips"),
    ("tag_1", ""),
    ("#coffee!!", ""),
])
def test_tags_are_repaired_to_words(garbage, repaired):
    assert text.repair_tag(garbage) == repaired


def test_run_together_and_off_topic_tags_are_not_words_of_the_video():
    vocabulary = text.stems("home espresso barista grind beans shot", shortest=1)
    assert not text.real_words("scienceblueamoviedshapeballdetailsholedd", vocabulary)
    assert text.real_words("espresso shots", vocabulary)
    assert not text.real_words("sourdough", vocabulary)


def test_tags_keep_their_accents_and_leave_out_a_title_s_padding():
    """A Spanish title was tagged "cafe" (the accentless comparison key), an English one "ultimate", "guide"
    and "tips": tags are the words as written, without the words titles are padded with."""
    spanish = meta_cmd.Meta._tags(None, ["café en casa"], "café en casa", "Cómo preparar un café perfecto en casa",
                                  "Cómo preparar un café perfecto en casa", "El café recién molido sabe mejor.", "es")
    assert "café" in spanish and "cafe" not in spanish, spanish
    english = meta_cmd.Meta._tags(None, ["home espresso", "ultimate", "best tips"], "home espresso",
                                  "The Ultimate Guide to Home Espresso: Best Tips", "The Ultimate Guide to Home Espresso",
                                  "Great espresso at home needs fresh beans.", "en")
    assert english == ["home espresso", "The Ultimate Guide to Home Espresso", "espresso"], english


def test_titles_and_descriptions_are_cut_where_a_person_would():
    long = ("How to Make Perfect Espresso at Home Every Morning Without a Fancy Machine and Why should you start "
            "your day with it")
    title = limits.fit_title(long)
    assert title == "How to Make Perfect Espresso at Home Every Morning Without a Fancy Machine"
    assert limits.fit_title("Espresso basics. " + "x" * 200) == "Espresso basics."
    assert text.unique_sentences("Fresh beans matter. Grind fine! fresh beans matter. Grind fine.") == \
        "Fresh beans matter. Grind fine!"
    assert text.phrase("Dial in the grind, then weigh the dose and time the shot", 30) == "Dial in the grind"


def test_one_date_parser_and_one_default_category():
    assert limits.parse_time("2030-05-01T17:00:00Z").utcoffset() == dt.timedelta(0)
    local = limits.parse_time("2030-05-01T17:00:00")
    assert local.tzinfo is not None and local.hour == 17  # no zone: the wall clock of this machine
    assert limits.resolve_time("2030-05-01T17:00:00") == local
    assert limits.DEFAULT_CATEGORY == "27"
    body = limits.video_body({"title": "Espresso", "description": "x"})
    assert body["snippet"]["categoryId"] == "27"
    assert limits.chapter_lines([{"start": 0, "title": "Intro"}, {"start": "1:05", "title": "Beans"}, {"start": 70}]) == \
        ["0:00 Intro", "1:05 Beans"]


@pytest.mark.parametrize("args, message", [
    (["--publish-at", "2020-01-01T00:00:00Z"], "is in the past"),
    (["--publish-at", "+2d", "--privacy", "public"], "--publish-at needs --privacy private"),
    (["--publish-at", "whenever"], "not a time"),
    (["--publish-at", "+3000000d"], "too far ahead"),  # was an OverflowError traceback, exit 1
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
    # no visuals, so no generated image: nothing to disclose whatever spoke the narration
    assert long["meta"]["synthetic_media"] is False and short["meta"]["synthetic_media"] is False
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


STOCK = [
    {"start": 0, "end": 4, "text": "Great espresso", "query": "espresso", "kind": "clip", "path": "a.mp4",
     "provider": "pexels", "asset_id": "1", "url": "https://www.pexels.com/video/1/", "author": "Ann Lee",
     "license": "Pexels License", "synthetic": False},
    {"start": 4, "end": 8, "text": "Fresh beans", "query": "beans", "kind": "clip", "path": "a.mp4",
     "provider": "pexels", "asset_id": "1", "url": "https://www.pexels.com/video/1/", "author": "Ann Lee",
     "license": "Pexels License", "synthetic": False},
    {"start": 8, "end": 12, "text": "Grinder", "query": "grinder", "kind": "still", "path": "b.jpg",
     "provider": "pixabay", "asset_id": "9", "url": "https://pixabay.com/photos/9/", "author": "Bo Kim",
     "license": "Pixabay Content License", "synthetic": False},
    {"start": 12, "end": 16, "text": "Taste", "query": "taste", "kind": "card", "path": "c.png",
     "provider": "cards", "asset_id": "", "url": "", "author": "", "license": "", "synthetic": False},
]
GENERATED = [{**STOCK[3], "kind": "still", "provider": "images", "path": "g.png", "synthetic": True}]


@pytest.mark.slow
def test_credits_and_synthetic_media_come_from_visuals(tmp_path):
    """Issue 8 item 5 with the bundled model: stock shots credited once each, synthetic_media exactly when a
    shot is a generated image."""
    stock = {**record("stock", None), "visuals": STOCK}
    generated = {**record("generated", None), "visuals": GENERATED}
    plain = {**record("plain", None), "video": {"duration_s": 40, "cards": 4}}  # cs-render internals: ignored
    run = run_cs("meta", [stock, generated, plain], "--seed", "2", cwd=tmp_path, timeout=1800)
    assert run.code == 0, run.stderr
    by_id = {r["id"]: r["meta"] for r in run.records}
    description = by_id["stock"]["description"]
    assert description.count("Video by Ann Lee on Pexels") == 1 and "Photo by Bo Kim on Pixabay" in description
    assert len(description.encode()) <= 5000
    assert by_id["stock"]["synthetic_media"] is False and by_id["generated"]["synthetic_media"] is True
    assert by_id["plain"]["synthetic_media"] is False and "Credits" not in by_id["plain"]["description"]
    assert "Credits" not in by_id["generated"]["description"]


TOPICS = [("home espresso", ESPRESSO), ("espresso grinder", ESPRESSO[1:]), ("coffee beans", ESPRESSO[:3])]


@pytest.mark.slow
@pytest.mark.parametrize("seed", ["1", "5", "9"])
def test_bundled_model_metadata_a_person_would_accept(tmp_path, seed):
    """SmolLM2-135M over several seeds and topics: every tag is words of the video, no sentence twice in a
    description, titles complete."""
    records = [record(f"r{n}", None, topic=topic, segments=segments) for n, (topic, segments) in enumerate(TOPICS)]
    run = run_cs("meta", records, "--seed", seed, cwd=tmp_path, timeout=1800)
    assert run.code == 0, run.stderr
    for out, given in zip(run.records, records):
        meta = out["meta"]
        vocabulary = meta_cmd._vocabulary(given)
        for tag in meta["tags"]:
            assert text.TAG_CHARS.match(tag) and text.real_words(tag, vocabulary), (tag, meta["tags"])
            assert text.shares_word(tag, given["topic"] + " " + given["title"] + " "
                                    + " ".join(s["text"] for s in given["script"]["segments"])), tag
        assert "sourdough" not in " ".join(meta["tags"]).lower()
        paragraph = meta["description"].split("\n\n")[0]
        said = [" ".join(text.words(s.lower())) for s in text.sentences(paragraph)]
        assert len(said) == len(set(said)), paragraph
        assert meta["title"].split()[-1].lower().strip(".,!?") not in text.DANGLING, meta["title"]


def test_credit_lines_once_per_stock_asset():
    assert meta_cmd._credits({"visuals": STOCK + GENERATED}) == \
        "Credits:\nVideo by Ann Lee on Pexels\nPhoto by Bo Kim on Pixabay"
    assert meta_cmd._credits({"visuals": GENERATED}) == "" and meta_cmd._credits({}) == ""


def test_a_draft_with_a_block_finding_is_asked_again_and_fails_when_none_passes(tmp_path):
    """The content checks (checks.py) on what cs-meta writes: an offensive first answer is asked again; a
    record whose every answer is offensive fails naming the finding, and the other records go on."""
    from writer_server import WriterServer

    bad = json.dumps({"title": "Espresso Shots for Motherfuckers", "description": "Pull a better espresso shot "
                      "at home, you dumb bastard, with fresh beans.", "tags": ["espresso", "home espresso", "coffee"]})
    good = json.dumps({"title": "Pull a Better Espresso Shot at Home", "description": "Fresh beans, a fine grind "
                       "and a level tamp make a sweeter espresso shot at home.", "tags": ["espresso", "home espresso", "coffee"]})
    env = {"OPENAI_API_KEY": "test", "CS_LLM_RETRIES": "0"}
    records = [record("again", None, fmt="short"), record("never", None, fmt="short"), {"id": "no-script"}]
    with WriterServer([bad, good, bad]) as writer:  # one run (the openai client takes seconds to import)
        run = run_cs("meta", records, "-k", "--engine", "openai", cwd=tmp_path, env={**env, "OPENAI_BASE_URL": writer.url})
    assert run.code == 3, run.stderr
    again, never, _ = run.records
    assert "record again: metadata draft 1 has offensive" in run.stderr and "_error" not in again
    from creator_tools import checks

    assert checks.run({"meta": again["meta"]}, only=["offensive"]) == []
    message = never["_error"]["message"]
    assert "every metadata draft had a block finding" in message and "offensive" in message and "--seed" in message
    assert len(writer.asked) == 2 + meta_cmd.TRIES
