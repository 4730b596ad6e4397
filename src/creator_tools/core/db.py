"""The one SQLite/PostgreSQL layer: the upload and quota ledgers (youtube/ledger.py) and the stats store
(stats/store.py) open their database here.

- The dialect is decided once, from the URL (`postgresql://` or `postgres://`, else a SQLite file, with or
  without `sqlite:///`); SQL is written with `?` parameters and rewritten for psycopg.
- Autocommit outside `transaction(lock=...)`, which is serialized across processes and machines (a
  PostgreSQL advisory lock; SQLite's write lock by BEGIN IMMEDIATE).
- Versioned migrations: `Schema.migrations[n]` takes a database from version n to n+1; the version reached
  is recorded per component in the table `cs_schema`, so each step runs once. Writers migrate on open;
  readers (`readonly=True`: cs-stats report/recommend, cs-stats pull reading cs-publish's ledger) open the
  database read-only, never migrate, and name the command that upgrades an older one.
- A SQLite file another process holds locked (a migration, a long write) is "busy, try again", never
  "not a usable database"; how long to wait first is CS_DB_TIMEOUT.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from ..errors import ConfigError, EngineError
from . import config, files

VERSION_TABLE = "cs_schema"


def is_postgres(url: str | os.PathLike) -> bool:
    """The one dialect test: every caller asks here, never the URL's prefix itself."""
    return str(url).startswith(("postgresql://", "postgres://"))


def sqlite_path(url: str | os.PathLike) -> Path | None:
    """The file a SQLite URL names (None for PostgreSQL)."""
    return None if is_postgres(url) else Path(str(url).removeprefix("sqlite:///"))


Migration = Callable[["Database"], None] | str  # SQL statements (with {real}/{int}) or a function


@dataclass(frozen=True)
class Schema:
    component: str  # the row in cs_schema: two components may share one PostgreSQL database
    what: str  # for people: "upload ledger", "stats store"
    variable: str  # the setting that picks the database: "CS_DB"
    upgrade: str  # the command that migrates it: "cs-stats pull"
    migrations: tuple[Migration, ...]
    private: bool = False  # 0600 file in a 0700 folder (the ledger holds resumable upload URIs)

    @property
    def version(self) -> int:
        return len(self.migrations)


def add_columns(*columns: tuple[str, str, str]) -> Callable[["Database"], None]:
    """A migration adding (table, column, type) where missing (a database made before a column existed)."""

    def migrate(db: "Database") -> None:
        for table, column, kind in columns:
            if column not in db.columns(table):
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    return migrate


class Database:
    """One connection, SQLite or PostgreSQL, behind the same `?`-parameter SQL."""

    def __init__(self, url: str | os.PathLike, schema: Schema, *, readonly: bool = False):
        self.url, self.schema, self.readonly = str(url), schema, readonly
        self.postgres = is_postgres(self.url)
        self.types = {"real": "DOUBLE PRECISION", "int": "BIGINT"} if self.postgres else {"real": "REAL", "int": "INTEGER"}
        self._depth = 0
        self.conn = self._open_postgres() if self.postgres else self._open_sqlite()
        try:
            self._check_version() if readonly else self._migrate()
        except BaseException:
            self.close()
            raise

    @property
    def where(self) -> str:
        return f"the {self.schema.what} {self.url}"

    # --- connections ------------------------------------------------------------------------------------

    def _open_sqlite(self) -> Any:
        import sqlite3

        path = sqlite_path(self.url)
        wait = config.number("CS_DB_TIMEOUT")
        if self.readonly:
            if not path.is_file():
                raise ConfigError(f"no {self.schema.what} at {path}; check --db (or {self.schema.variable}), or run "
                                  f"{self.schema.upgrade} first")
            from urllib.parse import quote

            try:
                return sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True, timeout=wait,
                                       isolation_level=None, check_same_thread=False)
            except sqlite3.Error as exc:
                raise ConfigError(f"cannot open {self.where}: {exc}; pass --db or set {self.schema.variable}") from exc
        try:
            if self.schema.private and path.parent == config_state_dir():
                files.private_dir(path.parent)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
            if self.schema.private:  # made 0600 before SQLite creates it (its -wal and -shm copy the mode)
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, files.PRIVATE_FILE))
                for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                    files.make_private(name)
            db = sqlite3.connect(path, timeout=wait, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")  # a reader never blocks a writer; fails on a non-database file
        except sqlite3.OperationalError as exc:
            raise self._sqlite_error(exc) from exc
        except (OSError, sqlite3.Error) as exc:  # "file is not a database" (a DatabaseError) included
            raise ConfigError(f"cannot open {self.where}: {exc}; pass --db or set {self.schema.variable}") from exc
        return db

    def _open_postgres(self) -> Any:
        try:
            import psycopg
        except ImportError as exc:
            raise ConfigError(f"a PostgreSQL {self.schema.what} needs the psycopg package; "
                              "pip install 'psycopg[binary]'") from exc
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
            if self.readonly:
                conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            return conn
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"cannot connect to the {self.schema.what} {self.url}: {first}; check --db or "
                              f"{self.schema.variable}") from exc

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()

    # --- SQL --------------------------------------------------------------------------------------------

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """A cursor over SQL's rows; outside `transaction()` the statement commits at once."""
        try:
            return self.conn.execute(self._sql(sql), tuple(params))
        except Exception as exc:
            raise self._translate(exc) from exc

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            if self.postgres:
                with self.conn.cursor() as cur:
                    cur.executemany(self._sql(sql), rows)
            else:
                self.conn.executemany(sql, rows)
        except Exception as exc:
            raise self._translate(exc) from exc

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self.execute(sql, params).fetchall()

    def columns(self, table: str) -> set[str]:
        if self.postgres:
            rows = self.query("SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                              "AND table_schema = current_schema()", (table,))
            return {row[0] for row in rows}
        return {row[1] for row in self.query(f"PRAGMA table_info({table})")}

    def has_table(self, table: str) -> bool:
        if self.postgres:
            return bool(self.query("SELECT 1 FROM information_schema.tables WHERE table_name = ? "
                                   "AND table_schema = current_schema()", (table,)))
        return bool(self.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)))

    @contextlib.contextmanager
    def transaction(self, lock: str | None = None) -> Iterator["Database"]:
        """One transaction (nested ones join it); with LOCK, serialized against every other holder of that
        name on any machine (PostgreSQL: a transaction-scoped advisory lock; SQLite: BEGIN IMMEDIATE takes
        the file's write lock, which serializes every writer)."""
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        if self.postgres:
            with self.conn.transaction():
                self._depth = 1
                try:
                    if lock:
                        self.execute("SELECT pg_advisory_xact_lock(?)", (lock_key(lock),))
                    yield self
                finally:
                    self._depth = 0
            return
        self.execute("BEGIN" if self.readonly else "BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self
        except BaseException:
            self._depth = 0
            with contextlib.suppress(Exception):
                self.conn.execute("ROLLBACK")
            raise
        self._depth = 0
        self.execute("COMMIT")

    @contextlib.contextmanager
    def claim(self, name: str) -> Iterator[None]:
        """Hold NAME for the duration (one holder at a time across processes and machines); the lock dies
        with its holder: a PostgreSQL session advisory lock, or flock on a file beside the SQLite file."""
        if self.postgres:
            self.execute("SELECT pg_advisory_lock(?)", (lock_key(name),))
            try:
                yield
            finally:
                self.execute("SELECT pg_advisory_unlock(?)", (lock_key(name),))
            return
        import fcntl
        import zlib

        folder = sqlite_path(self.url).parent / "claims"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{zlib.crc32(name.encode()):08x}.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # --- versions ---------------------------------------------------------------------------------------

    def version(self) -> int:
        """The schema version recorded for this component; 0 for a database made before versions were
        recorded (its tables, if any, are brought up to date by the idempotent first migrations)."""
        if not self.has_table(VERSION_TABLE):
            return 0
        row = self.execute(f"SELECT version FROM {VERSION_TABLE} WHERE component = ?", (self.schema.component,)).fetchone()
        return int(row[0]) if row else 0

    def _migrate(self) -> None:
        with self.transaction(lock=f"creator-tools schema {self.schema.component}"):  # two first runs at once
            self.execute(f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (component TEXT PRIMARY KEY, "
                         f"version {self.types['int']} NOT NULL, migrated_at {self.types['real']} NOT NULL)")
            found = self._newer_check(self.version())
            for step in self.schema.migrations[found:]:
                if callable(step):
                    step(self)
                else:
                    for statement in filter(str.strip, step.format(**self.types).split(";")):
                        self.execute(statement)
            if found != self.schema.version:
                self.execute(f"INSERT INTO {VERSION_TABLE} (component, version, migrated_at) VALUES (?, ?, ?) "
                             "ON CONFLICT (component) DO UPDATE SET version = excluded.version, "
                             "migrated_at = excluded.migrated_at", (self.schema.component, self.schema.version, time.time()))

    def _check_version(self) -> None:
        found = self._newer_check(self.version())
        if found < self.schema.version:
            raise ConfigError(f"{self.where} is from an older release (schema {found}, this one reads "
                              f"{self.schema.version}); run {self.schema.upgrade} once to upgrade it")

    def _newer_check(self, found: int) -> int:
        if found > self.schema.version:
            raise ConfigError(f"{self.where} was written by a newer creator-tools (schema {found}, this one knows "
                              f"{self.schema.version}); upgrade creator-tools on this machine")
        return found

    # --- errors -----------------------------------------------------------------------------------------

    def _translate(self, exc: Exception) -> Exception:
        import sqlite3

        if isinstance(exc, sqlite3.OperationalError):
            return self._sqlite_error(exc)
        if isinstance(exc, sqlite3.DatabaseError):  # a file that is not SQLite
            return ConfigError(f"cannot open {self.where}: {exc}; pass --db or set {self.schema.variable}")
        return exc

    def _sqlite_error(self, exc: Exception) -> Exception:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return EngineError(f"{self.where} is locked by another process (a migration or a long write) "
                               f"after {config.number('CS_DB_TIMEOUT'):g} s; try again in a moment (or raise "
                               "CS_DB_TIMEOUT)", retryable=True)
        if "readonly" in text or "read-only" in text:
            return ConfigError(f"cannot write {self.where} ({text}); make it writable or pass --db another file")
        if "no such table" in text or "no such column" in text:
            return ConfigError(f"{self.where} lacks part of its schema ({text}); run {self.schema.upgrade} once "
                               "to upgrade it")
        if "not a database" in text or "malformed" in text or "unable to open" in text:
            return ConfigError(f"cannot open {self.where}: {text}; pass --db or set {self.schema.variable}")
        return exc


def config_state_dir() -> Path:
    """$XDG_STATE_HOME/creator-tools (default ~/.local/state/creator-tools): the toolkit's one state folder."""
    base = config.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "creator-tools"


def lock_key(name: str) -> int:
    """A signed 64-bit advisory lock key from a name."""
    import hashlib

    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


_local = threading.local()


def connect(url: str | os.PathLike, schema: Schema, *, readonly: bool = False) -> Database:
    """One connection per thread, database and mode (sqlite3 and psycopg connections stay on their thread)."""
    cache = getattr(_local, "connections", None)
    if cache is None:
        cache = _local.connections = {}
    key = (str(url), schema.component, readonly)
    if key not in cache:
        cache[key] = Database(url, schema, readonly=readonly)
    return cache[key]
