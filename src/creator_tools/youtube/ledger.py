"""The upload ledger: one SQLite database under $XDG_STATE_HOME/creator-tools/ that remembers, per channel
and file sha256, the resumable session URI (saved before the first byte is sent), the video id once the
upload completes, and each follow-up step (thumbnail, captions, playlist). It is what makes a re-run resume a
killed upload instead of starting over, and return an uploaded file's `youtube` key without a second video."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    channel_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    path TEXT NOT NULL,
    session_uri TEXT,
    video_id TEXT,
    steps TEXT NOT NULL DEFAULT '{}',
    youtube TEXT,
    record TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (channel_id, sha256)
);
CREATE TABLE IF NOT EXISTS spend (
    day TEXT NOT NULL,
    project TEXT NOT NULL,
    at REAL NOT NULL,
    call TEXT NOT NULL,
    units INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS spend_day ON spend (project, day);
"""


def state_dir() -> Path:
    """$XDG_STATE_HOME/creator-tools (default ~/.local/state/creator-tools)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "creator-tools"


def database_path() -> Path:
    return state_dir() / "youtube.sqlite"


_local = threading.local()


def connect(path: Path | None = None) -> sqlite3.Connection:
    """One connection per thread (sqlite3 objects must stay on their thread), WAL so a reader never
    blocks a writer, and a busy timeout for two processes sharing the file."""
    path = Path(path or database_path())
    cache = getattr(_local, "connections", None)
    if cache is None:
        cache = _local.connections = {}
    if str(path) not in cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SCHEMA)
        columns = {row[1] for row in db.execute("PRAGMA table_info(uploads)")}
        if "record" not in columns:  # ledgers written before the published record was kept
            db.execute("ALTER TABLE uploads ADD COLUMN record TEXT")
        cache[str(path)] = db
    return cache[str(path)]


class Uploads:
    """Rows of the uploads table for one channel."""

    def __init__(self, channel_id: str, path: Path | None = None):
        self.channel_id = channel_id
        self.path = path

    @property
    def db(self) -> sqlite3.Connection:
        return connect(self.path)

    def get(self, sha256: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT size, path, session_uri, video_id, steps, youtube, record FROM uploads WHERE channel_id=? AND sha256=?",
            (self.channel_id, sha256),
        ).fetchone()
        if not row:
            return None
        size, path, session_uri, video_id, steps, youtube, record = row
        return {"size": size, "path": path, "session_uri": session_uri, "video_id": video_id,
                "steps": json.loads(steps), "youtube": json.loads(youtube) if youtube else None,
                "record": json.loads(record) if record else None}

    def save_session(self, sha256: str, size: int, path: str, session_uri: str) -> None:
        now = time.time()
        self.db.execute(
            "INSERT INTO uploads (channel_id, sha256, size, path, session_uri, created, updated) VALUES (?,?,?,?,?,?,?)"
            " ON CONFLICT (channel_id, sha256) DO UPDATE SET session_uri=excluded.session_uri, path=excluded.path,"
            " updated=excluded.updated",
            (self.channel_id, sha256, size, path, session_uri, now, now),
        )

    def forget_session(self, sha256: str) -> None:
        self.db.execute("UPDATE uploads SET session_uri=NULL, updated=? WHERE channel_id=? AND sha256=? AND video_id IS NULL",
                        (time.time(), self.channel_id, sha256))

    def save_video(self, sha256: str, video_id: str) -> None:
        self.db.execute("UPDATE uploads SET video_id=?, updated=? WHERE channel_id=? AND sha256=?",
                        (video_id, time.time(), self.channel_id, sha256))

    def save_step(self, sha256: str, step: str, value: Any) -> None:
        with self.db:  # read-modify-write in one transaction
            self.db.execute("BEGIN IMMEDIATE")
            row = self.db.execute("SELECT steps FROM uploads WHERE channel_id=? AND sha256=?",
                                  (self.channel_id, sha256)).fetchone()
            steps = {**json.loads(row[0]), step: value}
            self.db.execute("UPDATE uploads SET steps=?, updated=? WHERE channel_id=? AND sha256=?",
                            (json.dumps(steps), time.time(), self.channel_id, sha256))

    def save_done(self, sha256: str, youtube: dict, record: dict | None = None) -> None:
        """The finished upload, with a summary of the published record for cs-stats to join."""
        self.db.execute("UPDATE uploads SET youtube=?, record=COALESCE(?, record), updated=? WHERE channel_id=? AND sha256=?",
                        (json.dumps(youtube), json.dumps(record) if record else None, time.time(), self.channel_id, sha256))

    def scheduled(self) -> list[str]:
        """publish_at of every finished upload on this channel (for spreading new ones over free slots)."""
        rows = self.db.execute("SELECT youtube FROM uploads WHERE channel_id=? AND youtube IS NOT NULL",
                               (self.channel_id,)).fetchall()
        return [json.loads(r[0]).get("publish_at") for r in rows if json.loads(r[0]).get("publish_at")]
