"""The stats store: per-video and per-channel daily time series in SQLite (default) or PostgreSQL.

Every write is an upsert keyed by (video, day), so pulling the same days twice stores nothing twice and a
re-pull replaces YouTube's revised numbers. Days are ISO `YYYY-MM-DD` text in both databases: the same SQL
compares and groups them, and the store file stays readable with the sqlite3 shell.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Sequence

from ..core import config, db

METRICS = ("views", "watch_minutes", "avg_view_s", "avg_view_pct", "likes", "subs_gained")

VIDEO_COLUMNS = ("video_id", "title", "published_at", "duration_s", "view_count", "like_count",
                 "comment_count", "fetched_at", "description", "tags", "shape")
# Columns added after the first stores were made: (table, column, type), added on open where missing.
LATER_COLUMNS = (("videos", "description", "TEXT"), ("videos", "tags", "TEXT"), ("videos", "shape", "TEXT"))
PUBLISHED_COLUMNS = ("video_id", "record_id", "topic", "format", "title", "hook", "length_s", "publish_at",
                     "thumb")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS videos (
  video_id TEXT PRIMARY KEY, title TEXT, published_at TEXT, duration_s {real}, view_count {int},
  like_count {int}, comment_count {int}, fetched_at TEXT, description TEXT, tags TEXT, shape TEXT);
CREATE TABLE IF NOT EXISTS published (
  video_id TEXT PRIMARY KEY, record_id TEXT, topic TEXT, format TEXT, title TEXT, hook TEXT,
  length_s {real}, publish_at TEXT, thumb TEXT);
CREATE TABLE IF NOT EXISTS daily (
  video_id TEXT NOT NULL, day TEXT NOT NULL, views {int}, watch_minutes {real}, avg_view_s {real},
  avg_view_pct {real}, likes {int}, subs_gained {int}, PRIMARY KEY (video_id, day));
CREATE INDEX IF NOT EXISTS daily_by_day ON daily (day, video_id, views, watch_minutes, avg_view_pct, likes,
  subs_gained);
CREATE TABLE IF NOT EXISTS channel_daily (
  day TEXT PRIMARY KEY, views {int}, watch_minutes {real}, avg_view_s {real}, avg_view_pct {real},
  likes {int}, subs_gained {int});
CREATE TABLE IF NOT EXISTS pulls (
  started_at TEXT PRIMARY KEY, since TEXT, until TEXT, videos {int}, daily_rows {int}, channel_rows {int});
"""


def default_url() -> str:
    """`$CS_STATS_DB`, else `$XDG_STATE_HOME/creator-tools/stats.sqlite` (~/.local/state when unset)."""
    if config.is_set("CS_STATS_DB"):
        return config.get("CS_STATS_DB")
    return str(db.config_state_dir() / "stats.sqlite")  # the one XDG state folder of the toolkit


SCHEMA = db.Schema(component="stats", what="stats database", variable="CS_STATS_DB", upgrade="cs-stats pull",
                   migrations=(_SCHEMA, db.add_columns(*LATER_COLUMNS)))


class Store:
    """The stats database (core/db.py). Writers (`cs-stats pull`) migrate it on open; readers (READONLY:
    report, recommend) open it read-only and never change it, and an older store names `cs-stats pull`."""

    def __init__(self, url: str | None = None, readonly: bool = False):
        self.url = url or default_url()
        self.db = db.Database(self.url, SCHEMA, readonly=readonly)
        self.postgres = self.db.postgres

    # --- plumbing ---------------------------------------------------------------------------------------

    def transaction(self):
        """Work that commits together (or not at all): `.execute` and `.executemany` inside."""
        return self.db.transaction()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self.db.query(sql, params)

    def close(self) -> None:
        self.db.close()

    def _upsert(self, table: str, columns: Sequence[str], keys: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        rows = [tuple(row) for row in rows]
        if not rows:
            return 0
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
        sql = (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
               f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}")
        with self.transaction() as cur:
            cur.executemany(sql, rows)
        return len(rows)

    # --- writes -----------------------------------------------------------------------------------------

    def upsert_videos(self, rows: Iterable[dict]) -> int:
        return self._upsert("videos", VIDEO_COLUMNS, ("video_id",), ([r.get(c) for c in VIDEO_COLUMNS] for r in rows))

    def upsert_published(self, rows: Iterable[dict]) -> int:
        """What cs-publish knew about a video; fields it did not know keep their stored value."""
        rows = list(rows)
        if not rows:
            return 0
        known = {r["video_id"]: r for r in self.published(video_ids=[r["video_id"] for r in rows])}
        merged = []
        for row in rows:
            old = known.get(row["video_id"], {})
            merged.append([row.get(c) if row.get(c) is not None else old.get(c) for c in PUBLISHED_COLUMNS])
        return self._upsert("published", PUBLISHED_COLUMNS, ("video_id",), merged)

    def upsert_daily(self, rows: Iterable[Sequence[Any]]) -> int:
        """Rows of (video_id, day, views, watch_minutes, avg_view_s, avg_view_pct, likes, subs_gained)."""
        return self._upsert("daily", ("video_id", "day") + METRICS, ("video_id", "day"), rows)

    def upsert_channel_daily(self, rows: Iterable[Sequence[Any]]) -> int:
        """Rows of (day, views, watch_minutes, avg_view_s, avg_view_pct, likes, subs_gained)."""
        return self._upsert("channel_daily", ("day",) + METRICS, ("day",), rows)

    def log_pull(self, started_at: str, since: str, until: str, videos: int, daily_rows: int, channel_rows: int) -> None:
        self._upsert("pulls", ("started_at", "since", "until", "videos", "daily_rows", "channel_rows"), ("started_at",),
                     [(started_at, since, until, videos, daily_rows, channel_rows)])

    # --- reads ------------------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        return {t: self.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in ("videos", "published", "daily", "channel_daily")}

    def day_range(self) -> tuple[str | None, str | None]:
        # Two queries: SQLite answers a lone MIN or MAX from the index, but not both in one statement.
        for table in ("daily", "channel_daily"):
            last = self.query(f"SELECT MAX(day) FROM {table}")[0][0]
            if last is not None:
                return self.query(f"SELECT MIN(day) FROM {table}")[0][0], last
        return None, None

    def videos(self) -> list[dict]:
        """Every known video, API fields joined with what cs-publish recorded (published wins on topic)."""
        rows = self.query(
            "SELECT v.video_id, v.title, v.published_at, v.duration_s, v.view_count, v.like_count,"
            " v.description, v.tags, v.shape,"
            " p.record_id, p.topic, p.format, p.title, p.hook, p.length_s, p.publish_at, p.thumb"
            " FROM videos v LEFT JOIN published p ON p.video_id = v.video_id ORDER BY v.published_at, v.video_id")
        names = ("video_id", "api_title", "published_at", "duration_s", "view_count", "like_count", "description",
                 "tags", "shape", "record_id", "topic", "format", "title", "hook", "length_s", "publish_at", "thumb")
        out = [dict(zip(names, row)) for row in rows]
        for video in out:
            video["tags"] = json.loads(video["tags"]) if video["tags"] else []
        return out

    def published(self, video_ids: Sequence[str] | None = None) -> list[dict]:
        sql = f"SELECT {', '.join(PUBLISHED_COLUMNS)} FROM published"
        rows = []
        if video_ids is None:
            rows = self.query(sql)
        else:
            ids = list(video_ids)
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                rows += self.query(sql + f" WHERE video_id IN ({', '.join('?' * len(chunk))})", chunk)
        return [dict(zip(PUBLISHED_COLUMNS, row)) for row in rows]

    def window_totals(self, prev_start: str, start: str, end: str) -> dict[str, dict[str, tuple]]:
        """Per video: sums over [start, end] ("current") and over [prev_start, start) ("previous"), in one
        pass over the covering day index. Each is (views, watch_minutes, view-weighted avg_view_pct,
        likes, subs_gained, days)."""
        rows = self.query(
            "SELECT video_id, CASE WHEN day >= ? THEN 1 ELSE 0 END AS cur, SUM(views), SUM(watch_minutes),"
            " SUM(avg_view_pct * views), SUM(likes), SUM(subs_gained), COUNT(*) FROM daily"
            " WHERE day >= ? AND day <= ? GROUP BY video_id, cur", [start, prev_start, end])
        out: dict[str, dict[str, tuple]] = {}
        for video_id, current, *sums in rows:
            out.setdefault(video_id, {})["current" if current else "previous"] = tuple(sums)
        return out

    def series(self, start: str, end: str, video_ids: Sequence[str] | None = None) -> dict[str, list[tuple]]:
        """Per video: [(day, views, avg_view_pct)] over [start, end], in day order."""
        rows = self.query("SELECT video_id, day, views, avg_view_pct FROM daily WHERE day >= ? AND day <= ?"
                          " ORDER BY video_id, day", [start, end])
        wanted = set(video_ids) if video_ids is not None else None
        out: dict[str, list[tuple]] = {}
        for video_id, day, views, pct in rows:
            if wanted is None or video_id in wanted:
                out.setdefault(video_id, []).append((day, views or 0, pct or 0.0))
        return out

    def channel_series(self, start: str, end: str) -> list[tuple[str, int]]:
        """[(day, views)] for the channel: the channel report where pulled, else the sum over videos."""
        rows = self.query("SELECT day, views FROM channel_daily WHERE day >= ? AND day <= ? ORDER BY day", [start, end])
        if not rows:
            rows = self.query("SELECT day, SUM(views) FROM daily WHERE day >= ? AND day <= ? GROUP BY day ORDER BY day",
                              [start, end])
        return [(day, int(views or 0)) for day, views in rows]

    def lifetime(self) -> dict[str, tuple]:
        """Per video over every stored day: (views, watch_minutes, view-weighted pct, days, first day)."""
        rows = self.query("SELECT video_id, SUM(views), SUM(watch_minutes), SUM(avg_view_pct * views), COUNT(*),"
                          " MIN(day) FROM daily GROUP BY video_id")
        return {row[0]: tuple(row[1:]) for row in rows}
