"""cs-stats against the loopback YouTube server (Data API + Analytics API), on SQLite and on a real
PostgreSQL server started from Debian's package."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from youtube_analytics import Analytics  # noqa: E402
from youtube_server import YouTubeServer  # noqa: E402

from creator_tools.stats.store import Store  # noqa: E402

BIN = Path(sys.executable).parent
SINCE, UNTIL = "2024-05-01", "2024-05-28"
# topic -> (videos, views per day, format, seconds long, hook, publish hour UTC)
CHANNEL = {
    "sourdough": (3, 300, "short", 45, "Why does your loaf collapse?", 15),
    "espresso": (3, 40, "long", 420, "Espresso is mostly water", 9),
    "knife skills": (2, 90, "long", 300, "Three cuts every cook needs", 12),
}


def cs(*args: str, env: dict, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([str(BIN / "cs-stats"), *args], input=stdin, capture_output=True, text=True,
                            env=env, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"cs-stats {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


def records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "state" / "stats-test.sqlite")
    return request.getfixturevalue("postgres").create_database("t" + uuid.uuid4().hex[:12])


class Channel:
    """The test server with the Analytics API, a token, and a channel of videos with daily numbers."""

    def __init__(self, tmp_path: Path):
        self.server = YouTubeServer(tmp_path / "youtube")
        self.analytics = Analytics.install(self.server)
        self.server.start()
        self.tmp = tmp_path
        self.token = self.server.state.token_file(tmp_path / "token.json", self.server.url)
        self.env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
                    "CS_YOUTUBE_ENDPOINT": self.server.url, "CS_YOUTUBE_TOKEN": str(self.token),
                    "CS_YOUTUBE_BACKOFF_BASE": "0.01", "CS_OUT_DIR": str(tmp_path / "cs-out")}
        self.env.pop("CS_STATS_DB", None)
        self.published: list[dict] = []
        self.videos: dict[str, list[str]] = {}
        for topic, (count, views, fmt, seconds, hook, hour) in CHANNEL.items():
            for n in range(count):
                stamp = f"2024-05-01T{hour:02d}:00:00Z"
                video_id = self.analytics.add_video(f"{topic.title()} {n + 1}", published_at=stamp,
                                                    duration=f"PT{seconds // 60}M{seconds % 60}S",
                                                    statistics={"viewCount": views * 28})
                self.analytics.fill(video_id, SINCE, UNTIL, views=views + 10 * n, seconds=seconds * 0.5, pct=50.0)
                self.videos.setdefault(topic, []).append(video_id)
                self.published.append({
                    "id": f"rec-{video_id}", "topic": topic, "format": fmt, "title": f"{topic.title()} {n + 1}",
                    "hook": hook, "voice": {"duration_s": float(seconds)},
                    "meta": {"title": f"{topic.title()} {n + 1}", "publish_at": stamp},
                    "thumb": {"path": f"cs-out/thumb/{video_id}.jpg"},
                    "youtube": {"video_id": video_id, "url": f"https://youtu.be/{video_id}", "privacy": "public"}})

    def published_file(self) -> Path:
        path = self.tmp / "published.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in self.published))
        return path

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def channel(tmp_path):
    made = Channel(tmp_path)
    yield made
    made.stop()


def counts(db: str) -> dict[str, int]:
    store = Store(db)
    try:
        return store.counts()
    finally:
        store.close()


# --- the whole flow, on both databases -----------------------------------------------------------------


def test_pull_report_recommend(channel, db, tmp_path):
    published = channel.published_file()
    pulled = cs("pull", "--db", db, "--since", SINCE, "--until", UNTIL, "-i", str(published), env=channel.env)
    assert pulled.stdout == ""
    assert "pulled 8 videos (8 with views), 224 video-days and 28 channel-days" in pulled.stderr
    assert "8 joined with cs-publish records" in pulled.stderr
    first = counts(db)
    assert first == {"videos": 8, "published": 8, "daily": 8 * 28, "channel_daily": 28}

    # The same days again: every row is an upsert, nothing is stored twice.
    cs("pull", "--db", db, "--since", SINCE, "--until", UNTIL, env=channel.env)
    assert counts(db) == first

    out = records(cs("report", "--db", db, "--window", "7d", env=channel.env).stdout)
    assert len(out) == 8
    by_video = {r["stats"]["video_id"]: r for r in out}
    sourdough = by_video[channel.videos["sourdough"][0]]
    assert sourdough["id"] == f"rec-{channel.videos['sourdough'][0]}"  # the cs-publish record's id
    assert sourdough["topic"] == "sourdough" and sourdough["format"] == "short"
    stats = sourdough["stats"]
    assert stats["window"] == {"start": "2024-05-22", "end": UNTIL, "days": 7}
    assert stats["views"] == 300 * 7
    assert stats["avg_view_s"] == pytest.approx(22.5, abs=0.6)
    assert stats["likes"] == (300 // 20) * 7 and stats["subs_gained"] == 3 * 7
    assert stats["delta"]["views"] == 0 and stats["delta"]["views_pct"] == 0.0
    assert [r["stats"]["views"] for r in out] == sorted((r["stats"]["views"] for r in out), reverse=True)

    table = cs("report", "--db", db, "--format", "table", env=channel.env).stdout
    assert "Sourdough 1" in table and "2,100" in table
    assert "channel views/day" in table and "█" in table

    recommended = records(cs("recommend", "--db", db, env=channel.env).stdout)
    assert recommended[0]["topic"] == "sourdough"
    rec = recommended[0]["recommendation"]
    assert rec["format"] == "short" and rec["length_s"] == 45 and rec["publish_hour"] == 15
    assert rec["hook"] == "question"
    assert rec["evidence"]["topic"]["n"] == 3 and rec["evidence"]["topic"]["ratio"] > 2
    assert rec["evidence"]["topic"]["cliffs_delta"] == 1.0
    # sourdough's median video (310 views/day) against the channel's (95/day): the ratio, and the summary quoting it
    assert rec["evidence"]["topic"]["ratio"] == pytest.approx(310 / 95, abs=0.05)
    assert f"{rec['evidence']['topic']['ratio']}x the " in rec["summary"]
    assert "n=3 of 8" in rec["summary"]


def test_recommendations_follow_stored_performance(channel, db):
    cs("pull", "--db", db, "--since", SINCE, "--until", UNTIL, "-i", str(channel.published_file()), env=channel.env)
    before = records(cs("recommend", "--db", db, env=channel.env).stdout)
    assert [r["topic"] for r in before] == ["sourdough"]
    # YouTube revises the month: espresso took off. Re-pulling the same days replaces the numbers.
    for video_id in channel.videos["espresso"]:
        channel.analytics.fill(video_id, SINCE, UNTIL, views=900, seconds=200, pct=48.0)
    cs("pull", "--db", db, "--since", SINCE, "--until", UNTIL, env=channel.env)
    after = records(cs("recommend", "--db", db, env=channel.env).stdout)
    assert after[0]["topic"] == "espresso"
    assert after[0]["recommendation"]["format"] == "long"
    assert after[0]["recommendation"]["id"] != before[0]["recommendation"]["id"]
    assert counts(db)["daily"] == 8 * 28


# --- report --------------------------------------------------------------------------------------------


def test_report_windows_deltas_and_plot(channel, tmp_path):
    db = str(tmp_path / "stats.sqlite")
    video_id = channel.videos["espresso"][0]
    channel.analytics.fill(video_id, "2024-05-15", "2024-05-21", views=10)
    channel.analytics.fill(video_id, "2024-05-22", UNTIL, views=25)
    cs("pull", "--db", db, "--since", SINCE, "--until", UNTIL, env=channel.env)
    last = {r["stats"]["video_id"]: r["stats"] for r in records(cs("report", "--db", db, env=channel.env).stdout)}
    assert last[video_id]["views"] == 175 and last[video_id]["delta"]["views"] == 105
    assert last[video_id]["delta"]["views_pct"] == 150.0
    assert last[video_id]["delta"]["previous"] == {"start": "2024-05-15", "end": "2024-05-21", "days": 7}
    week = {r["stats"]["video_id"]: r["stats"] for r in
            records(cs("report", "--db", db, "--window", "1w", env=channel.env).stdout)}
    assert week[video_id]["window"] == {"start": "2024-05-22", "end": UNTIL, "days": 7}  # ends at the last day
    # --since alone: from that day to the last stored day (git log, journalctl), compared with the 28 before
    since = {r["stats"]["video_id"]: r["stats"] for r in
             records(cs("report", "--db", db, "--since", "2024-05-15", env=channel.env).stdout)}
    assert since[video_id]["window"] == {"start": "2024-05-15", "end": UNTIL, "days": 14}
    assert since[video_id]["views"] == 7 * 10 + 7 * 25
    assert since[video_id]["delta"]["previous"] == {"start": "2024-05-01", "end": "2024-05-14", "days": 14}
    assert since[video_id]["delta"]["views"] == 7 * 10 + 7 * 25 - 14 * 40  # espresso 1: 40 a day before the fills
    first = {r["stats"]["video_id"]: r["stats"] for r in
             records(cs("report", "--db", db, "--since", SINCE, "--window", "1w", env=channel.env).stdout)}
    assert first[video_id]["window"] == {"start": SINCE, "end": "2024-05-07", "days": 7}
    assert first[video_id]["delta"]["views_pct"] is None  # nothing stored before the first day

    png = tmp_path / "plots" / "stats.png"
    done = cs("report", "--db", db, "--window", "28d", "--plot", str(png), "--limit", "3", env=channel.env)
    assert len(records(done.stdout)) == 3
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    with Image.open(png) as image:
        image.verify()
    with Image.open(png) as image:
        assert image.size == (1000, 1100)
        assert len(image.convert("RGB").getcolors(1 << 20)) > 5  # drawn, not blank

    chart = cs("report", "--db", db, "--chart", env=channel.env)
    assert "top videos by views" in chart.stderr
    assert "█" in chart.stderr or "▏" in chart.stderr


def test_report_adds_stats_to_published_records(channel, tmp_path):
    db = str(tmp_path / "stats.sqlite")
    cs("pull", "--db", db, "--since", SINCE, "--until", UNTIL, env=channel.env)
    lines = [json.dumps(r) for r in channel.published[:2]]
    unknown = {**channel.published[2], "id": "lost", "youtube": {"video_id": "notAVideo01"}}
    out = records(cs("report", "--db", db, "-i", "-", env=channel.env, stdin="\n".join(lines) + "\n").stdout)
    assert [r["id"] for r in out] == [channel.published[0]["id"], channel.published[1]["id"]]
    assert out[0]["topic"] == "sourdough" and out[0]["stats"]["video_id"] == channel.published[0]["youtube"]["video_id"]
    failed = cs("report", "--db", db, "-k", "-i", "-", env=channel.env, check=False,
                stdin="\n".join(lines + [json.dumps(unknown)]) + "\n")
    assert failed.returncode == 3
    assert "video notAVideo01 is not in the stats store; run cs-stats pull first" in failed.stderr
    assert records(failed.stdout)[-1]["_error"]["command"] == "cs-stats"


# --- errors --------------------------------------------------------------------------------------------


def test_empty_store_and_bad_flags(tmp_path):
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    env.pop("CS_STATS_DB", None)
    empty = cs("report", env=env, check=False)
    assert empty.returncode == 1 and empty.stdout == ""
    assert "no stats store at" in empty.stderr and "run cs-stats pull first" in empty.stderr
    assert str(tmp_path / "state" / "creator-tools" / "stats.sqlite") in empty.stderr  # the XDG default
    assert not (tmp_path / "state" / "creator-tools" / "stats.sqlite").exists()  # a report creates no store
    bad = cs("report", "--window", "week", env=env, check=False)
    assert bad.returncode == 2 and "use a number of days like 7d" in bad.stderr
    nodb = cs("report", "--db", "postgresql://nobody@127.0.0.1:1/none", env=env, check=False)
    assert nodb.returncode == 1 and "cannot connect to the stats database" in nodb.stderr


def test_pull_without_token_or_quota(channel, tmp_path):
    db = str(tmp_path / "stats.sqlite")
    env = {**channel.env, "CS_YOUTUBE_TOKEN": str(tmp_path / "missing.json")}
    missing = cs("pull", "--db", db, env=env, check=False)
    assert missing.returncode == 1 and "no YouTube token at" in missing.stderr and "cs-publish auth" in missing.stderr
    channel.server.state.faults.quota_exhausted = True
    deferred = cs("pull", "--db", db, "--since", SINCE, "--until", UNTIL, env=channel.env, check=False)
    assert deferred.returncode == 4 and "quotaExceeded" in deferred.stderr


def test_pull_charges_the_shared_quota_ledger(channel, tmp_path):
    db = str(tmp_path / "stats.sqlite")
    cs("pull", "--db", db, "--since", SINCE, "--until", UNTIL, env=channel.env)
    import sqlite3

    ledger = sqlite3.connect(tmp_path / "state" / "creator-tools" / "youtube.sqlite")
    calls = dict(ledger.execute("SELECT call, SUM(units) FROM spend GROUP BY call").fetchall())
    assert calls == {"channels.list": 1, "playlistItems.list": 1, "videos.list": 1}
    queries = channel.analytics.queries
    assert sum(1 for q in queries if q.get("filters", "").startswith("video==")) == 8
    assert all(q["metrics"] == "views,estimatedMinutesWatched,averageViewDuration,averageViewPercentage,likes,"
               "subscribersGained" for q in queries)
    # An incremental pull (no --since) re-fetches only the last stored days, which YouTube may revise.
    cs("pull", "--db", db, "--until", UNTIL, env=channel.env)
    assert channel.analytics.queries[-1]["startDate"] == "2024-05-25"


def test_help_stays_light():
    code = ("import sys, creator_tools.commands.stats; "
            "print(sorted(m for m in ('googleapiclient', 'rich', 'matplotlib', 'psycopg', 'numpy') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"
    for sub in ("pull", "report", "recommend"):
        text = cs(sub, "--help", env=dict(os.environ)).stdout
        assert "Example:" in text
    assert "--api-endpoint" in cs("pull", "--help", env=dict(os.environ)).stdout


@pytest.mark.slow
def test_recommend_feeds_cs_idea(channel, db):
    """The issue's "done" line: pull && report --format table && recommend | cs-idea -n 3, real stored data."""
    cs("pull", "--db", db, "--since", SINCE, "--until", UNTIL, "-i", str(channel.published_file()), env=channel.env)
    assert "Sourdough 1" in cs("report", "--db", db, "--format", "table", env=channel.env).stdout
    recommended = cs("recommend", "--db", db, env=channel.env).stdout
    count = "1" if db.startswith("postgresql") else "3"  # the local LLM is the slow part; one run asks for 3
    idea = subprocess.run([str(BIN / "cs-idea"), "-n", count, "--seed", "2"], input=recommended, capture_output=True, text=True,
                          env=channel.env, timeout=600)
    assert idea.returncode == 0, idea.stderr
    concepts = records(idea.stdout)
    assert 1 <= len(concepts) <= int(count) and all(c["topic"] == "sourdough" and c.get("title") for c in concepts)
    used = json.loads(recommended.splitlines()[0])["recommendation"]["id"]
    assert all(used in json.dumps(c.get("steered_by")) for c in concepts), concepts[0].get("steered_by")


def test_pull_joins_what_cs_publish_uploaded(channel, tmp_path):
    """A real cs-publish upload to the same server: cs-stats finds the video through the uploads playlist
    and the cs-publish ledger (no -i), and the published record's keys through -i."""
    video = tmp_path / "clip.mp4"
    subprocess.run([shutil.which("ffmpeg"), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=160x120:rate=10:duration=1", "-pix_fmt", "yuv420p", str(video)], check=True)
    record = {"id": "rec-upload", "topic": "sourdough", "format": "short", "hook": "Why does bread rise?",
              "voice": {"duration_s": 1.0}, "video": {"path": str(video)},
              "meta": {"title": "Bread rises", "description": "A test.", "tags": ["bread"], "category_id": "27",
                       "privacy": "public", "language": "en"},
              "review": {"status": "approved", "by": "auto"}}  # a public upload needs an approval (cs-review)
    published = subprocess.run([str(BIN / "cs-publish")], input=json.dumps(record) + "\n", capture_output=True,
                               text=True, env=channel.env, timeout=300)
    assert published.returncode == 0, published.stderr
    out = json.loads(published.stdout)
    video_id = out["youtube"]["video_id"]
    channel.analytics.fill(video_id, SINCE, UNTIL, views=500, seconds=0.8, pct=80.0)
    db = str(tmp_path / "stats.sqlite")
    cs("pull", "--db", db, "--since", SINCE, "--until", UNTIL, env=channel.env)
    store = Store(db)
    try:
        assert {r["video_id"] for r in store.published()} == {video_id}  # from the ledger alone
    finally:
        store.close()
    cs("pull", "--db", db, "--since", SINCE, "--until", UNTIL, "-i", "-", env=channel.env, stdin=published.stdout)
    report = {r["stats"]["video_id"]: r for r in records(cs("report", "--db", db, env=channel.env).stdout)}
    assert report[video_id]["id"] == "rec-upload" and report[video_id]["topic"] == "sourdough"
    assert report[video_id]["stats"]["views"] == 500 * 7


# --- a channel that adopts the tool: history without cs-publish records ------------------------------------


def test_recommend_from_youtube_metadata_alone(tmp_path):
    """Videos cs-publish never saw: topics from their tags, titles and descriptions, format from length and
    frame shape, publish hour from publishedAt, all as videos.list returns them, so day one has advice."""
    channel = Channel(tmp_path)  # its videos have no tags; these are the adopted channel's history
    try:
        words = {"sourdough": ("Why does your sourdough loaf collapse? Part {n}", ["sourdough", "bread baking"],
                               (1080, 1920)),
                 "espresso": ("Espresso at home, dialing in #{n}", ["espresso", "coffee"], (1920, 1080)),
                 "knife skills": ("Knife skills for every cook, lesson {n}", ["knife skills", "cooking"], (1920, 1080))}
        adopted = {}
        for topic, (count, views, _fmt, seconds, _hook, hour) in CHANNEL.items():
            title, tags, size = words[topic]
            for n in range(count):
                video_id = channel.analytics.add_video(
                    title.format(n=n + 1), published_at=f"2024-04-0{n + 1}T{hour:02d}:30:00Z",
                    duration=f"PT{seconds // 60}M{seconds % 60}S", tags=tags, size=size,
                    description=f"In this video: {topic}. Subscribe for more.")
                channel.analytics.fill(video_id, SINCE, UNTIL, views=views * 2 + 10 * n, seconds=seconds * 0.5)
                adopted[video_id] = topic
        db = str(tmp_path / "adopted.sqlite")
        cs("pull", "--db", db, "--since", SINCE, "--until", UNTIL, env=channel.env)  # no -i: nothing from cs-publish
        out = records(cs("recommend", "--db", db, env=channel.env).stdout)
        assert out and out[0]["topic"] == "sourdough", out
        rec = out[0]["recommendation"]
        assert rec["format"] == "short" and rec["length_s"] == 45 and rec["publish_hour"] == 15
        members = rec["evidence"]["topic"]["n"]
        assert members == 3 + 3  # the three adopted sourdough videos and the three tagless "Sourdough N"
        store = Store(db)
        try:
            stored = {v["video_id"]: v for v in store.videos()}
        finally:
            store.close()
        some = next(iter(adopted))
        assert stored[some]["tags"] == words[adopted[some]][1] and "In this video" in stored[some]["description"]
        from creator_tools.stats.recommend import profiles

        store = Store(db)
        try:
            topics = {p["video_id"]: p["topic"] for p in profiles(store)}
        finally:
            store.close()
        assert {v: topics[v] for v in adopted} == adopted
    finally:
        channel.stop()


def test_junk_store_file_is_one_line_not_a_traceback(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database, just some bytes\n" * 200)
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "CS_YOUTUBE_ENDPOINT": "http://127.0.0.1:1"}
    env.pop("CS_STATS_DB", None)
    for args in (["report"], ["recommend"], ["pull", "--since", SINCE, "--until", UNTIL]):
        done = cs(*args, "--db", str(junk), env=env, check=False)
        assert done.returncode == 1, (args, done.stderr)
        assert "Traceback" not in done.stderr and "DatabaseError" not in done.stderr
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert lines == [f"cs-stats: error: cannot open the stats database {junk}: file is not a database; "
                         "pass --db or set CS_STATS_DB"], (args, done.stderr)
    assert junk.read_bytes().startswith(b"this is not a database")  # left as it was


def test_hostile_windows_and_outputs_are_one_line_and_keep_the_store(channel, tmp_path):
    """Windows past the calendar, a --plot or -o that is a folder, under a file or the store itself: one
    line each, exit 2, and the database unchanged. A --since before YouTube means everything stored."""
    db = tmp_path / "stats.sqlite"
    cs("pull", "--db", str(db), "--since", SINCE, "--until", UNTIL, env=channel.env)
    before = db.read_bytes()
    (tmp_path / "afile").write_text("x")
    cases = {("--window", "999999d"): "--window 999999d is longer than 36525 days",
             ("--window", "99999999999d"): "bad window '99999999999d'",
             ("--since", "9999-12-31", "--window", "7d"): "--since 9999-12-31 is after 2999",
             ("--plot", str(tmp_path)): f"--plot {tmp_path} is a folder",
             ("--plot", str(tmp_path / "afile" / "x.png")): f"{tmp_path / 'afile'} is a file, not a folder",
             ("--plot", str(db)): "is the stats store itself",
             ("-o", str(db)): "is the stats store itself"}
    for args, says in cases.items():
        done = cs("report", "--db", str(db), *args, env=channel.env, check=False)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert done.returncode == 2 and len(lines) == 1 and says in lines[0], (args, done.stderr)
    same = cs("recommend", "--db", str(db), "-o", str(tmp_path / "." / "stats.sqlite"), env=channel.env, check=False)
    assert same.returncode == 2 and "is the stats store itself" in same.stderr
    nan = cs("recommend", "--db", str(db), "--min-effect", "nan", env=channel.env, check=False)
    assert nan.returncode == 2 and "--min-effect" in nan.stderr and "Traceback" not in nan.stderr
    assert db.read_bytes() == before
    everything = records(cs("report", "--db", str(db), "--since", "0001-01-01", env=channel.env).stdout)
    assert everything and everything[0]["stats"]["window"]["start"] == "2005-01-01"
    assert everything[0]["stats"]["window"]["end"] == UNTIL
