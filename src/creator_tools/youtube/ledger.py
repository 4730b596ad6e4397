"""The upload ledger: one database (a SQLite file under $XDG_STATE_HOME/creator-tools/ by default, or a
PostgreSQL URL shared by many publishers: --db / $CS_DB) that remembers, per channel and file sha256, the
resumable session URI (saved before the first byte is sent), the video id once the upload completes, and each
follow-up step (thumbnail, captions, playlist), and the quota spent per Pacific-time day. It is what makes a
re-run resume a killed upload instead of starting over, and return an uploaded file's `youtube` key without a
second video; with PostgreSQL, what stops two machines from uploading the same bytes or overspending the day."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import threading
import time
import zlib
from pathlib import Path
from typing import Any, Iterator

from ..errors import ConfigError
from ..core import config

SCHEMA = """
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


def state_dir() -> Path:
    """$XDG_STATE_HOME/creator-tools (default ~/.local/state/creator-tools): the toolkit's one state folder."""
    base = config.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "creator-tools"


def database_path() -> Path:
    return state_dir() / "youtube.sqlite"


def default_url() -> str:
    """$CS_DB, else the SQLite file under the state folder."""
    return config.get("CS_DB") or str(database_path())


def is_postgres(url: str) -> bool:
    return str(url).startswith(("postgresql://", "postgres://"))


def owner() -> str:
    """Who holds a claim: host and process, for the person reading the ledger."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Database:
    """One connection to the ledger, SQLite or PostgreSQL, behind the same `?`-parameter SQL; autocommit
    outside `transaction()`."""

    def __init__(self, url: str):
        self.url = str(url)
        self.postgres = is_postgres(self.url)
        self._claims: dict[str, Any] = {}
        self.conn = self._open_postgres() if self.postgres else self._open_sqlite()
        kinds = {"real": "DOUBLE PRECISION", "int": "BIGINT"} if self.postgres else {"real": "REAL", "int": "INTEGER"}
        try:
            with self.transaction(lock="creator-tools ledger schema"):  # two machines' first runs at once
                for statement in filter(str.strip, SCHEMA.format(**kinds).split(";")):
                    self.execute(statement)
                self._add_later_columns()
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"{self.url} is not a usable upload ledger ({exc}); pass --db another file or "
                              "set CS_DB") from exc

    def _open_sqlite(self) -> sqlite3.Connection:
        path = Path(self.url.removeprefix("sqlite:///"))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")  # a reader never blocks a writer; fails on a non-database file
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the upload ledger {path}: {exc}; pass --db or set CS_DB") from exc
        return db

    def _open_postgres(self) -> Any:
        try:
            import psycopg
        except ImportError as exc:
            raise ConfigError("a PostgreSQL ledger needs the psycopg package; pip install 'psycopg[binary]'") from exc
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise ConfigError(f"cannot connect to the upload ledger {self.url}: {str(exc).strip().splitlines()[0]}; "
                              "check --db or CS_DB") from exc

    def _add_later_columns(self) -> None:
        for table, column, kind in LATER_COLUMNS:
            if self.postgres:
                self.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {kind}")
            elif column not in {row[1] for row in self.execute(f"PRAGMA table_info({table})").fetchall()}:
                self.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    def execute(self, sql: str, params: tuple = ()) -> Any:
        if self.postgres:
            return self.conn.execute(sql.replace("?", "%s"), params)
        return self.conn.execute(sql, params)

    @contextlib.contextmanager
    def transaction(self, lock: str | None = None) -> Iterator["Database"]:
        """One transaction; with `lock`, serialized against every other holder of that name on any machine
        (PostgreSQL: a transaction-scoped advisory lock; SQLite: BEGIN IMMEDIATE takes the file's write lock)."""
        if self.postgres:
            with self.conn.transaction():
                if lock:
                    self.execute("SELECT pg_advisory_xact_lock(?)", (_key(lock),))
                yield self
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    @contextlib.contextmanager
    def claim(self, name: str) -> Iterator[None]:
        """Hold NAME for the duration (one publisher per video's bytes at a time, across processes and
        machines); a second claimant waits. The lock dies with its holder, so a killed publisher's claim
        passes to the re-run: a PostgreSQL session advisory lock, or flock on a file beside the SQLite ledger."""
        if self.postgres:
            self.execute("SELECT pg_advisory_lock(?)", (_key(name),))
            try:
                yield
            finally:
                self.execute("SELECT pg_advisory_unlock(?)", (_key(name),))
            return
        import fcntl

        folder = Path(self.url.removeprefix("sqlite:///")).parent / "claims"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{zlib.crc32(name.encode()):08x}.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _key(name: str) -> int:
    """A signed 64-bit advisory lock key from a name."""
    import hashlib

    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


_local = threading.local()


def connect(url: str | Path | None = None) -> Database:
    """One connection per thread and database (sqlite3 and psycopg connections stay on their thread)."""
    url = str(url or default_url())
    cache = getattr(_local, "connections", None)
    if cache is None:
        cache = _local.connections = {}
    if url not in cache:
        cache[url] = Database(url)
    return cache[url]


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
