"""cs-review's local page: one batch served on 127.0.0.1 behind a random token, decisions taken by POST.

The standard library's ThreadingHTTPServer: Range requests (so a video seeks) are a dozen lines here, and a
pipe stage does not pay for a web framework's import. Safety: the token is the first path segment of every
request (403 without it); the Host header must name the bound address (a DNS-rebinding page gets 421);
decisions are POSTs that must come from the page's own origin; files are served by their index in the
records' own artifacts, never by a path from the request; request bodies are capped.
"""

from __future__ import annotations

import json
import mimetypes
import os
import re
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

MAX_BODY = 1 << 20  # a batch's decisions with edited descriptions fit many times over
PAGE = Path(__file__).parent / "data" / "review.html"


class Batch:
    """What the page shows and what it sends back, shared by the server's threads."""

    def __init__(self, entries: list[dict], files: dict[tuple[int, str], str],
                 judge: Callable[[int, dict], list[str]]):
        self.entries = entries  # one JSON-ready view per record (commands/review.py builds them)
        self.files = files  # (record index, "video" | "thumb/0" | "shot/3" | "alt/3/1") -> local path
        self.judge = judge  # (index, decision) -> problems, [] when the decision can be taken
        self.decisions: dict[int, dict] = {}
        self.finished = threading.Event()
        self.lock = threading.Lock()

    def decide(self, decisions: dict[int, dict]) -> dict[int, list[str]]:
        """Take DECISIONS that can be taken; the others' problems by record. Finishing is the caller's
        (`finished.set()` once the answer is sent: cs-review stops the server and exits when it is set)."""
        refused = {n: problems for n, d in decisions.items() if (problems := self.judge(n, d))}
        with self.lock:
            for n, decision in decisions.items():
                if n not in refused:
                    self.decisions[n] = decision
        return refused


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, batch: Batch, host: str, port: int):
        self.batch, self.token = batch, secrets.token_urlsafe(18)
        super().__init__((host, port), Handler)
        bound_host, self.bound_port = self.server_address[:2]
        self.hosts = {f"{bound_host}:{self.bound_port}", f"localhost:{self.bound_port}"} if bound_host == "127.0.0.1" \
            else {f"{bound_host}:{self.bound_port}"}
        # --host 0.0.0.0 answers on every address: a Host that is an address literal cannot be a rebinding
        # page (that needs a name in DNS), so those are let in too
        self.any_address = bound_host in ("0.0.0.0", "::")
        self.url = f"http://{bound_host}:{self.bound_port}/{self.token}/"

    def serve_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="cs-review-http", daemon=True)
        thread.start()
        return thread


class Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # stderr is for the command's own lines
        return

    # --- gatekeeping -------------------------------------------------------------------------------------

    def _route(self) -> list[str] | None:
        """The path after the token, split; None after answering a refused request."""
        if not self._host_ok(self.headers.get("Host", "")):
            self._send(421, b"wrong Host header\n", "text/plain")
            return None
        parts = urlsplit(self.path).path.split("/")
        if len(parts) < 2 or not secrets.compare_digest(parts[1].encode(), self.server.token.encode()):
            self._send(403, b"forbidden: open the address cs-review printed\n", "text/plain")
            return None
        return parts[2:]

    def _host_ok(self, host: str) -> bool:
        if host in self.server.hosts:
            return True
        name, _, port = host.rpartition(":")
        if not self.server.any_address or port != str(self.server.bound_port):
            return False
        import ipaddress

        try:
            ipaddress.ip_address(name.strip("[]"))
            return True
        except ValueError:
            return False

    def _same_origin(self) -> bool:
        origin = self.headers.get("Origin")
        site = self.headers.get("Sec-Fetch-Site")
        if origin is not None:
            return origin.startswith("http://") and self._host_ok(urlsplit(origin).netloc) and \
                urlsplit(origin).netloc == self.headers.get("Host")
        return site in (None, "same-origin")

    # --- requests ----------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._get(body=True)

    def do_HEAD(self) -> None:
        self._get(body=False)

    def _get(self, body: bool) -> None:
        route = self._route()
        if route is None:
            return
        if route == []:  # /TOKEN without the slash: the page's relative links need it
            return self._send(301, b"", "text/plain", body=body, headers={"Location": f"/{self.server.token}/"})
        if route == [""]:
            page = PAGE.read_bytes()
            return self._send(200, page, "text/html; charset=utf-8", body=body)
        if route == ["batch.json"]:
            data = json.dumps({"records": self.server.batch.entries}, ensure_ascii=False).encode()
            return self._send(200, data, "application/json", body=body)
        if len(route) >= 3 and route[0] == "file" and route[1].isdigit():
            path = self.server.batch.files.get((int(route[1]), "/".join(route[2:])))
            if path and os.path.isfile(path):
                return self._file(path, body)
        self._send(404, b"not found\n", "text/plain", body=body)

    def do_POST(self) -> None:
        route = self._route()
        if route is None:
            return
        if not self._same_origin():
            return self._send(403, b"forbidden: decisions come from the review page only\n", "text/plain")
        if route != ["decide"]:
            return self._send(404, b"not found\n", "text/plain")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY:
            self.close_connection = True
            return self._send(413, b"body missing or over 1 MiB\n", "text/plain")
        try:
            sent = json.loads(self.rfile.read(length))
            decisions = {int(n): d for n, d in sent["decisions"].items() if isinstance(d, dict)}
            if any(not 0 <= n < len(self.server.batch.entries) for n in decisions):
                raise ValueError("no such record")
        except (ValueError, KeyError, TypeError, AttributeError):
            return self._send(400, b'{"error": "not a decisions object"}', "application/json")
        batch = self.server.batch
        refused = batch.decide(decisions)
        finishing = bool(sent.get("finish")) and not refused
        answer = {"ok": not refused, "refused": {str(n): p for n, p in refused.items()},
                  "finished": finishing or batch.finished.is_set()}
        self._send(422 if refused else 200, json.dumps(answer).encode(), "application/json")
        if finishing:  # only after the answer is out: set first, the command's exit cut it (IncompleteRead)
            self.wfile.flush()
            batch.finished.set()

    # --- answers -----------------------------------------------------------------------------------------

    def _send(self, status: int, data: bytes, kind: str, body: bool = True, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        if kind.startswith("text/html"):  # the page loads nothing from elsewhere but stock previews
            self.send_header("Content-Security-Policy", "default-src 'self'; img-src 'self' https: data:; "
                             "media-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; "
                             "frame-ancestors 'none'")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _file(self, path: str, body: bool) -> None:
        """PATH whole or the byte range asked for (a native player seeks with `Range: bytes=N-`)."""
        size = os.path.getsize(path)
        kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
        start, end, status = 0, size - 1, 200
        wanted = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
        if wanted and (wanted[1] or wanted[2]):
            if wanted[1]:
                start, end = int(wanted[1]), min(int(wanted[2]) if wanted[2] else size - 1, size - 1)
            else:  # the last N bytes
                start = max(size - int(wanted[2]), 0)
            if start > end or start >= size:
                return self._send(416, b"", kind, headers={"Content-Range": f"bytes */{size}"})
            status = 206
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Cache-Control", "no-store")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if not body:
            return
        with open(path, "rb") as handle:
            handle.seek(start)
            left = end - start + 1
            try:
                while left > 0:
                    chunk = handle.read(min(left, 1 << 16))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    left -= len(chunk)
            except (BrokenPipeError, ConnectionResetError):  # the player moved on to another range
                self.close_connection = True
