"""core/db.py under the ledgers and the stats store: versions recorded in the database, readers that never
migrate, a locked store that is busy (not broken), private ledger files, and the quota messages."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import threading

import pytest

from creator_tools.core import db
from creator_tools.errors import ConfigError, QuotaDeferred
from creator_tools.stats.store import Store
from creator_tools.youtube import ledger, quota

CS_STATS = os.path.join(os.path.dirname(sys.executable), "cs-stats")


def _old_store(path) -> None:
    """A stats store as releases before versioned migrations left it: tables, no cs_schema, no `shape`."""
    made = sqlite3.connect(path)
    made.executescript("""
        CREATE TABLE videos (video_id TEXT PRIMARY KEY, title TEXT, published_at TEXT, duration_s REAL,
          view_count INTEGER, like_count INTEGER, comment_count INTEGER, fetched_at TEXT, description TEXT, tags TEXT);
        INSERT INTO videos (video_id, title) VALUES ('v1', 'Old one');
    """)
    made.close()


def test_writer_migrates_once_and_records_the_version(tmp_path):
    path = tmp_path / "stats.sqlite"
    _old_store(path)
    store = Store(str(path))
    assert store.db.version() == db.Schema.version.fget(store.db.schema) == 2
    assert "shape" in store.db.columns("videos") and store.videos()[0]["api_title"] == "Old one"
    store.close()
    rows = sqlite3.connect(path).execute("SELECT component, version FROM cs_schema").fetchall()
    assert rows == [("stats", 2)]


def test_reader_never_migrates_and_names_the_upgrade(tmp_path):
    path = tmp_path / "stats.sqlite"
    _old_store(path)
    before = path.read_bytes()
    with pytest.raises(ConfigError) as caught:
        Store(str(path), readonly=True)
    assert caught.value.message == (f"the stats database {path} is from an older release (schema 0, this one "
                                    "reads 2); run cs-stats pull once to upgrade it")
    assert path.read_bytes() == before  # not a byte changed: no cs_schema, no new column
    done = subprocess.run([CS_STATS, "report", "--db", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.strip().endswith("run cs-stats pull once to upgrade it")


def test_a_store_locked_by_a_migration_is_busy_not_unusable(tmp_path):
    """`cs-stats report` used to migrate the store it read: with another process holding the write lock
    (a pull migrating it) that read "not a usable stats store". Now a reader reads beside the writer."""
    path = tmp_path / "stats.sqlite"
    store = Store(str(path))
    store.upsert_videos([{"video_id": "v1", "title": "Tea", "published_at": "2026-11-01T10:00:00Z"}])
    store.upsert_daily([("v1", "2026-11-02", 10, 1.0, 20.0, 40.0, 1, 0)])
    store.close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # what a migration holds
    try:
        done = subprocess.run([CS_STATS, "report", "--db", str(path)], capture_output=True, text=True, timeout=60,
                              env={**os.environ, "CS_DB_TIMEOUT": "2"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "not a usable" not in done.stderr and "Traceback" not in done.stderr
    assert done.returncode == 0, done.stderr
    assert '"v1"' in done.stdout


def test_busy_message_when_a_legacy_journal_store_is_locked(tmp_path):
    path = tmp_path / "legacy.sqlite"
    store = Store(str(path))
    store.db.execute("PRAGMA journal_mode=DELETE")  # a store on a file system without WAL (NFS)
    store.close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        os.environ["CS_DB_TIMEOUT"] = "0.2"
        with pytest.raises(Exception) as caught:
            Store(str(path), readonly=True).counts()
    finally:
        os.environ.pop("CS_DB_TIMEOUT")
        holder.execute("ROLLBACK")
        holder.close()
    assert "is locked by another process" in str(caught.value) and "not a usable" not in str(caught.value)


def test_newer_database_is_refused(tmp_path):
    path = tmp_path / "stats.sqlite"
    Store(str(path)).close()
    sqlite3.connect(path, isolation_level=None).execute("UPDATE cs_schema SET version = 9")
    with pytest.raises(ConfigError, match="written by a newer creator-tools"):
        Store(str(path))


def test_ledger_is_private(tmp_path, monkeypatch):
    """Issue 14 item 4: the ledger holds resumable upload URIs: 0600 files in a 0700 state folder."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("CS_DB", raising=False)
    database = ledger.connect()
    ledger.Uploads("chan", None).save_session("sha", 1, "v.mp4", "https://upload.example/session")
    folder = tmp_path / "state" / "creator-tools"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for name in ("youtube.sqlite", "youtube.sqlite-wal"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
    database.close()


def test_two_first_opens_at_once_migrate_once(tmp_path):
    path = str(tmp_path / "both.sqlite")
    errors = []

    def open_it():
        try:
            Store(path).close()
        except Exception as exc:  # noqa: BLE001 - the test reports whatever went wrong
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sqlite3.connect(path).execute("SELECT version FROM cs_schema").fetchall() == [(2,)]


def test_quota_messages_name_real_options(tmp_path):
    """The searches bucket's message named --searches-per-day, which no command has."""
    spent = quota.Quota("project", path=str(tmp_path / "ledger.sqlite"), searches=0, uploads=0)
    problem = spent.short({"searches": 1})
    assert "--searches-per-day" not in problem and problem.endswith("re-run tomorrow")
    assert spent.short({"uploads": 1}).endswith("or raise --uploads-per-day")
    with pytest.raises(QuotaDeferred):
        spent.reserve({"searches": 1}, "search")
