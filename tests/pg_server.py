"""A real PostgreSQL server for tests, from Debian's `postgresql` package: a fresh cluster in a temp dir,
listening on 127.0.0.1 and an ephemeral port, gone when stopped.

    with PostgresServer() as pg:
        url = pg.create_database("t1")   # postgresql://postgres@127.0.0.1:PORT/t1

PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` system user (the
package creates it) and initdb/postgres run as that user (subprocess `user=`, so the process we hold is the
postmaster itself and a signal reaches it, unlike through runuser); the data dir is made outside pytest's
tmp_path, whose parents are private to root. fsync is off: the cluster is thrown away.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from loopback import free_port, wait_until


def find_bin() -> Path | None:
    """The newest /usr/lib/postgresql/N/bin that has initdb and postgres, or PG_BIN."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PostgresServer:
    def __init__(self, bin_dir: Path | None = None):
        self.bin = bin_dir or find_bin()
        if self.bin is None:
            raise FileNotFoundError("PostgreSQL is not installed; apt-get install postgresql")
        self.as_user = "postgres" if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="cs-pg-"))
        self.data = self.root / "data"
        self.process: subprocess.Popen | None = None
        self.port = 0

    def _as(self) -> dict:
        if not self.as_user:
            return {}
        user = pwd.getpwnam(self.as_user)
        return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": [],
                "env": {**os.environ, "HOME": str(self.root), "USER": self.as_user}}

    def start(self, timeout: float = 60) -> "PostgresServer":
        try:
            return self._start(timeout)
        except BaseException:
            self.stop()  # no cluster or temp dir left behind by a failed start
            raise

    def _start(self, timeout: float) -> "PostgresServer":
        if self.as_user:
            user = pwd.getpwnam(self.as_user)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        subprocess.run([str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                        "-E", "UTF8", "--locale=C", "--no-sync"],
                       check=True, capture_output=True, cwd=self.root, **self._as())
        for _attempt in range(5):  # another process may take the port between probing and binding
            self.port = free_port()
            self.process = subprocess.Popen(
                [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
                           "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.data}",
                           "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                           "-c", "max_connections=40", "-c", "shared_buffers=32MB"],
                stdout=subprocess.DEVNULL, stderr=open(self.root / "server.log", "wb"), cwd=self.root, **self._as())
            if self._wait_ready(timeout):
                return self
            self._kill()
        raise RuntimeError(f"PostgreSQL did not start; see {self.root / 'server.log'}: "
                           + (self.root / "server.log").read_text(errors="replace")[-2000:])

    def _wait_ready(self, timeout: float) -> bool:
        def ready() -> bool:
            return subprocess.run([str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"]).returncode == 0

        try:
            wait_until(ready, timeout, process=self.process, what="PostgreSQL")
            return True
        except RuntimeError:
            return False

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def _kill(self) -> None:
        if self.process and self.process.poll() is None:
            # SIGINT is PostgreSQL's "fast" shutdown: clients are disconnected, the cluster stops cleanly.
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def stop(self) -> None:
        self._kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
