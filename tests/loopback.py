"""One set of helpers for the loopback servers the tests start (llama.cpp, PostgreSQL, moto, the YouTube and
visuals test servers): a free port, and a wait that polls until a server answers (or its process died)
instead of a fixed sleep."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from typing import Any, Callable


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


def serve(handle: "Callable[[Any], None]", port: int = 0, name: str = "loopback"):
    """A ThreadingHTTPServer on 127.0.0.1:PORT (0: any free one) already serving on a daemon thread: every
    method of every request goes to HANDLE(handler). HTTP/1.1, no request log, and a client that hangs up
    (a test killed it, or an endless body is the point) is no error. Stop it with `.shutdown()` and
    `.server_close()`; `.server_address[1]` is its port. The one copy the test servers share."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    import sys
    import threading

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def _serve(self) -> None:
            try:
                handle(self)
            except OSError:  # the client went away (or a fault cut the answer)
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address) -> None:
            if not isinstance(sys.exc_info()[1], OSError):
                super().handle_error(request, client_address)

    httpd = Server(("127.0.0.1", port), Handler)
    threading.Thread(target=httpd.serve_forever, name=name, daemon=True).start()
    return httpd


def send_json(handler, status: int, data) -> None:
    """Answer HANDLER's request with DATA as JSON (Content-Length set, so keep-alive clients read it whole)."""
    import json

    raw = json.dumps(data).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(raw)))
    handler.end_headers()
    handler.wfile.write(raw)
