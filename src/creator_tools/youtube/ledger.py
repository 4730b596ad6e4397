"""The upload ledger: one database (a SQLite file under $XDG_STATE_HOME/creator-tools/ by default, or a
PostgreSQL URL shared by many publishers: --db / $CS_DB) that remembers, per channel and file sha256, the
resumable session URI (saved before the first byte is sent), the video id once the upload completes, and each
follow-up step (thumbnail, captions, playlist), and the quota spent per Pacific-time day. It is what makes a
re-run resume a killed upload instead of starting over, and return an uploaded file's `youtube` key without a
second video; with PostgreSQL, what stops two machines from uploading the same bytes or overspending the day."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from ..core import config, db

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS uploads (
    channel_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size {int} NOT NULL,
    path TEXT NOT NULL,
    session_uri TEXT,
    video_id TEXT,
    steps TEXT NOT NULL DEFAULT '{{}}',
    youtube TEXT,
    record TEXT,
    created {real} NOT NULL,
    updated {real} NOT NULL,
    claimed_by TEXT,
    PRIMARY KEY (channel_id, sha256)
);
CREATE TABLE IF NOT EXISTS spend (
    day TEXT NOT NULL,
    project TEXT NOT NULL,
    at {real} NOT NULL,
    call TEXT NOT NULL,
    units {int} NOT NULL
);
CREATE INDEX IF NOT EXISTS spend_day ON spend (project, day);
CREATE TABLE IF NOT EXISTS holds (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    day TEXT NOT NULL,
    bucket TEXT NOT NULL,
    units {int} NOT NULL,
    at {real} NOT NULL
);
"""
# Columns added after the first ledgers were written: (table, column, type).
LATER_COLUMNS = (("uploads", "record", "TEXT"), ("uploads", "claimed_by", "TEXT"))


SCHEMA = db.Schema(component="ledger", what="upload ledger", variable="CS_DB",
                   upgrade="cs-publish (any run but --dry-run)", private=True,
                   migrations=(SCHEMA_SQL, db.add_columns(*LATER_COLUMNS)))


def state_dir() -> Path:
    """$XDG_STATE_HOME/creator-tools (default ~/.local/state/creator-tools): the toolkit's one state folder."""
    return db.config_state_dir()


def database_path() -> Path:
    return state_dir() / "youtube.sqlite"


def default_url() -> str:
    """$CS_DB, else the SQLite file under the state folder."""
    return config.get("CS_DB") or str(database_path())


is_postgres = db.is_postgres


def owner() -> str:
    """Who holds a claim: host and process, for the person reading the ledger."""
    return f"{socket.gethostname()}:{os.getpid()}"


Database = db.Database  # execute, transaction(lock=...), claim(name): core/db.py


def connect(url: str | Path | None = None, readonly: bool = False) -> db.Database:
    """One connection per thread and database (sqlite3 and psycopg connections stay on their thread); the
    ledger is migrated on its first writable open. READONLY: read it as it is (cs-stats pull)."""
    return db.connect(str(url or default_url()), SCHEMA, readonly=readonly)


class Uploads:
    """Rows of the uploads table for one channel."""

    def __init__(self, channel_id: str, path: str | Path | None = None):
        self.channel_id = channel_id
        self.path = path

    @property
    def db(self) -> Database:
        return connect(self.path)

    def claim(self, sha256: str) -> Any:
        """The right to upload these bytes to this channel; see Database.claim. The row names the holder."""
        return self.db.claim(f"upload:{self.channel_id}:{sha256}")

    def mark_claimed(self, sha256: str, size: int, path: str) -> None:
        """The claim row, before any byte is sent: who is uploading the file, for whoever reads the ledger."""
        now = time.time()
        self.db.execute(
            "INSERT INTO uploads (channel_id, sha256, size, path, claimed_by, created, updated) VALUES (?,?,?,?,?,?,?)"
            " ON CONFLICT (channel_id, sha256) DO UPDATE SET claimed_by=excluded.claimed_by, updated=excluded.updated",
            (self.channel_id, sha256, size, path, owner(), now, now))

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
        with self.db.transaction(lock=f"steps:{self.channel_id}:{sha256}"):  # read-modify-write at once
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
