"""One set of helpers for the loopback servers the tests start (llama.cpp, PostgreSQL, moto, the YouTube and
visuals test servers): a free port, and a wait that polls until a server answers (or its process died)
instead of a fixed sleep."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from typing import Callable


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (servers that race for it retry: pg_server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(ready: Callable[[], bool], timeout: float, *, process: subprocess.Popen | None = None,
               interval: float = 0.05, what: str = "the server") -> None:
    """Poll READY until it returns True; RuntimeError after TIMEOUT seconds or once PROCESS has exited.
    The interval grows from INTERVAL to 0.5 s: a quick server is seen at once, a slow one is not hammered."""
    deadline = time.monotonic() + timeout
    pause = interval
    while True:
        try:
            if ready():
                return
        except OSError:
            pass
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode} before it was ready")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} was not ready after {timeout:g} s")
        time.sleep(pause)
        pause = min(pause * 1.5, 0.5)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.create_connection((host, port), timeout=1):
        return True


def http_answers(url: str) -> bool:
    urllib.request.urlopen(url, timeout=2).read()
    return True
