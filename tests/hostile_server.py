"""A hostile loopback server: the answers a broken or malicious API, CDN or network gives, over real HTTP.

A service's base URL is `URL/s/SCENARIO`; under it the server speaks the paths of Pexels
(`/videos/search`, `/v1/search`), the OpenAI images API (`/images/generations`) and chat completions
(`/chat/completions`), with one answer per SCENARIO:
- links: `file` (a `file:///` link to `server.secret`), `redirect-file` (a 302 to it), `huge` (Content-Length
  5 GiB of zeros), `endless` (zeros with no length, never ending), `trickle` (a byte every 0.25 s), `bomb`
  (a PNG whose header says 13000x13000), `ok` (a small real JPEG); `huge+ok` etc. lists both links;
- shapes: `list` (`[1,2,3]`), `nope` (`"videos": "nope"`, `"data": "nope"`, `"choices": "nope"`), `html` (an
  HTML page with status 200);
- `silent`: the connection is accepted and never answered; `error500`: HTTP 500 every time;
- `huge` and `endless` under `/chat/completions` and `/audio/speech`: that body as the answer itself.
`server.hits` counts requests per path. Everything stops with `stop()` (silent and endless handlers too).
"""

from __future__ import annotations

import io
import json
import struct
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
import loopback

HUGE = 5 * 1024 ** 3


def png_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR says WIDTH x HEIGHT and that holds one empty IDAT: Pillow's size check fires at open."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def small_jpeg(rgb=(20, 90, 210)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), rgb).save(buffer, "JPEG")
    return buffer.getvalue()


class HostileServer:
    def __init__(self, secret: Path):
        self.secret = Path(secret)  # the private file a `file://` link points at
        self.jpeg = small_jpeg()
        self.hits: dict[str, int] = {}
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def base(self, scenario: str) -> str:
        return f"{self.url}/s/{scenario}"

    def count(self, part: str) -> int:
        with self.lock:
            return sum(n for path, n in self.hits.items() if part in path)

    def links(self, scenario: str) -> list[str]:
        """The media links a SCENARIO's answers carry (`a+b`: both, in that order)."""
        links = []
        for name in scenario.split("+"):
            if name == "file":
                links.append(self.secret.as_uri())
            elif name == "ok":
                links.append(f"{self.url}/media/ok.jpg")
            elif name == "bomb":
                links.append(f"{self.url}/media/bomb.png")
            else:
                links.append(f"{self.url}/media/{name}")
        return links

    # --- answers ----------------------------------------------------------------------------------------
    def handle(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("?", 1)[0]
        with self.lock:
            self.hits[path] = self.hits.get(path, 0) + 1
        if h.command == "POST":
            h.rfile.read(int(h.headers.get("Content-Length") or 0))
        if path.startswith("/media/"):
            return self.media(h, path[len("/media/"):])
        parts = path.split("/", 3)  # "", "s", SCENARIO, rest
        if len(parts) < 4 or parts[1] != "s":
            return self.send(h, 404, b"{}")
        scenario, rest = parts[2], "/" + parts[3]
        if scenario == "silent":
            self.stopping.wait()  # accepted, never answered
            return
        if scenario == "error500":
            return self.send(h, 500, b'{"error": {"message": "internal error"}}')
        if scenario == "html":
            return self.send(h, 200, b"<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>",
                             "text/html")
        if scenario == "list":
            return self.send(h, 200, b"[1,2,3]")
        if scenario == "nope":
            key = {"/videos/search": "videos", "/v1/search": "photos", "/images/generations": "data",
                   "/chat/completions": "choices"}.get(rest, "data")
            return self.send(h, 200, json.dumps({key: "nope"}).encode())
        if scenario in ("huge", "endless") and rest in ("/chat/completions", "/audio/speech"):
            return self.media(h, scenario)  # an answer of gigabytes, declared or never ending
        links = self.links(scenario)
        if rest == "/videos/search":
            return self.send(h, 200, json.dumps({"page": 1, "per_page": 15, "videos": []}).encode())
        if rest == "/v1/search":
            photos = [{"id": n, "url": f"https://example.com/photo/{n}", "photographer": "x",
                       "src": {"large2x": link, "portrait": link, "original": link}} for n, link in enumerate(links)]
            return self.send(h, 200, json.dumps({"page": 1, "per_page": 15, "photos": photos}).encode())
        if rest == "/images/generations":
            return self.send(h, 200, json.dumps({"created": 1, "data": [{"url": links[0]}]}).encode())
        return self.send(h, 404, b"{}")

    def media(self, h, name: str) -> None:
        if name == "ok.jpg":
            return self.send(h, 200, self.jpeg, "image/jpeg")
        if name == "bomb.png":
            return self.send(h, 200, png_header(13000, 13000), "image/png")
        if name == "redirect-file":
            h.send_response(302)
            h.send_header("Location", self.secret.as_uri())
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if name in ("huge", "endless", "trickle"):
            h.send_response(200)
            h.send_header("Content-Type", "image/jpeg")
            if name == "huge":
                h.send_header("Content-Length", str(HUGE))
            elif name == "trickle":
                h.send_header("Content-Length", "100000")
            h.send_header("Connection", "close")
            h.end_headers()
            block = b"\0" * (1 << 16) if name != "trickle" else b"\0"
            try:
                while not self.stopping.is_set():
                    h.wfile.write(block)
                    h.wfile.flush()
                    if name == "trickle":
                        time.sleep(0.25)
            except OSError:
                pass  # the client gave up: what it should do
            h.close_connection = True
            return
        return self.send(h, 404, b"")

    @staticmethod
    def send(h, status: int, body: bytes, kind: str = "application/json") -> None:
        h.send_response(status)
        h.send_header("Content-Type", kind)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        try:
            h.wfile.write(body)
        except OSError:
            pass

    # --- life -------------------------------------------------------------------------------------------
    def start(self) -> "HostileServer":
        self.httpd = loopback.serve(self.handle, name="hostile-server")
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "HostileServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
