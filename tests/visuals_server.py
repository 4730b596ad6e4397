"""A loopback server for the Pexels, Pixabay and OpenAI images APIs, for tests and benchmarks.

What it speaks (the real request and answer shapes):
- Pexels: `GET /videos/search?query=&orientation=&size=&per_page=&page=` and `GET /v1/search?...`, the key
  in `Authorization: KEY`; answers `{page, per_page, total_results, next_page?, videos|photos}` with
  `video_files[{id, quality, file_type, width, height, fps, link}]`, `user{name, url}`, `duration`, or
  `src{original, large2x, large, medium, small, portrait, landscape, tiny}`, `photographer`; headers
  X-Ratelimit-Limit / -Remaining / -Reset (a Unix time); a bad key is 401.
- Pixabay: `GET /api/videos/?key=&q=&per_page=&page=` and `GET /api/?key=&q=&image_type=photo&orientation=`;
  answers `{total, totalHits, hits}` with `videos{large, medium, small, tiny: {url, width, height, size}}`,
  `duration`, `pageURL`, `user`, or `largeImageURL`, `webformatURL`, `imageWidth`, `imageHeight`; headers
  X-RateLimit-Limit / -Remaining / -Reset (seconds); a bad key is 400 "[ERROR 400] Invalid or missing API key".
- OpenAI images: `POST /v1/images/generations` with `Authorization: Bearer KEY`, `{model, prompt, n, size,
  response_format}`; sizes checked per model as OpenAI does (400 naming `size`), `b64_json` or `url` answers.
- Media: `GET /media/...` real MP4s (ffmpeg, a solid colour per keyword) and JPEG/PNG (Pillow), with
  Content-Length, Accept-Ranges and Range (206, 416).

Every keyword of KEYWORDS has its colour; a query finds the assets of each keyword among its words, several
per keyword (so "never the same asset twice" can be tested), portrait and landscape. Faults are switched per
test through `server.faults`; `server.requests` lists what arrived, `server.count(service)` counts it.
Run standalone: `python tests/visuals_server.py --root DIR` prints the base URL and serves until killed.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
import loopback

KEYWORDS = {
    "coffee": (111, 71, 40),  # brown
    "ocean": (20, 90, 210),  # blue
    "forest": (30, 140, 50),  # green
    "sunset": (240, 130, 20),  # orange
    "snow": (235, 235, 240),  # white
    "fire": (210, 30, 30),  # red
    "night": (20, 20, 60),  # navy
    "desert": (220, 190, 110),  # sand
    "flower": (230, 90, 180),  # pink
    # Short nouns among long words (issue 16): a query of the longest words finds none of them.
    "cat": (128, 128, 128),  # grey
    "rose": (150, 0, 80),  # crimson
    "city": (0, 200, 200),  # cyan
    "bird": (230, 230, 0),  # yellow
    "camel": (100, 0, 180),  # purple
}
SERVICES = ("pexels", "pixabay", "images")
ALWAYS = -1


def colour_of(keyword: str, index: int = 0) -> tuple[int, int, int]:
    """KEYWORD's colour, a little lighter or darker per asset so each asset is its own file."""
    shade = (index % 3 - 1) * 8
    return tuple(max(0, min(255, c + shade)) for c in KEYWORDS[keyword])


def nearest_keyword(rgb) -> str:
    """The keyword whose colour is closest to RGB (what a test reads back from a frame)."""
    return min(KEYWORDS, key=lambda k: sum((a - b) ** 2 for a, b in zip(KEYWORDS[k], rgb)))


def keywords_in(text: str) -> list[str]:
    words = re.findall(r"[a-z]+", text.lower())
    found = []
    for word in words:
        for keyword in KEYWORDS:
            if word in (keyword, keyword + "s", keyword + "es") and keyword not in found:
                found.append(keyword)
    return found


@dataclass
class Faults:
    """Switched per test. Counts decrement as they fire; ALWAYS (-1) never runs out."""

    rate_limit: dict[str, int] = field(default_factory=dict)  # service -> 429s to answer
    rate_limited_keys: dict[str, int] = field(default_factory=dict)  # key -> 429s to answer for it
    retry_after: str = "1"  # the Retry-After header of those 429s ("" for none)
    server_errors: dict[str, int] = field(default_factory=dict)  # service -> 503s to answer
    drop_downloads: int = 0  # media answers cut off half-way (then the connection closes)
    corrupt_downloads: int = 0  # media answers with garbage of the right length
    image_sizes: dict[str, list[str]] = field(default_factory=dict)  # extra models -> the only sizes they take
    image_answer: str = ""  # "url" or "b64_json": force the images answer's form


@dataclass
class Catalog:
    """How many assets each keyword has per service and kind (per orientation)."""

    pexels_videos: dict[str, int] = field(default_factory=lambda: {k: 3 for k in KEYWORDS})
    pexels_photos: dict[str, int] = field(default_factory=lambda: {k: 2 for k in KEYWORDS})
    pixabay_videos: dict[str, int] = field(default_factory=lambda: {k: 3 for k in KEYWORDS})
    pixabay_images: dict[str, int] = field(default_factory=lambda: {k: 2 for k in KEYWORDS})
    durations: tuple[float, ...] = (2.0, 6.0, 4.0)  # clip lengths, cycling over a keyword's assets


class VisualsServer:
    """`start()` on a thread (127.0.0.1, a free port), `url`, `stop()`; also a context manager."""

    def __init__(self, root: str | os.PathLike, keys: dict[str, set[str]] | None = None):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.keys = keys or {"pexels": {"pexels-key-1", "pexels-key-2"}, "pixabay": {"pixabay-key-1", "pixabay-key-2"},
                             "images": {"images-key"}}
        self.faults = Faults()
        self.catalog = Catalog()
        self.requests: list[dict] = []  # {service, method, path, query, key, status, range}
        self.lock = threading.Lock()
        self.media_lock = threading.Lock()
        self.httpd: ThreadingHTTPServer | None = None

    # --- bookkeeping ------------------------------------------------------------------------------------
    def count(self, service: str | None = None) -> int:
        with self.lock:
            return sum(1 for r in self.requests if service is None or r["service"] == service)

    def keys_used(self, service: str) -> list[str]:
        with self.lock:
            return [r["key"] for r in self.requests if r["service"] == service]

    def reset_counts(self) -> None:
        with self.lock:
            self.requests.clear()

    def _take(self, table: dict, name: str) -> bool:
        with self.lock:
            left = table.get(name, 0)
            if left == 0:
                return False
            if left > 0:
                table[name] = left - 1
            return True

    def _take_count(self, attribute: str) -> bool:
        with self.lock:
            left = getattr(self.faults, attribute)
            if left == 0:
                return False
            if left > 0:
                setattr(self.faults, attribute, left - 1)
            return True

    # --- the catalog ------------------------------------------------------------------------------------
    def assets(self, service: str, kind: str, query: str, orientation: str | None) -> list[dict]:
        counts = getattr(self.catalog, f"{service}_{kind}")
        found = []
        for keyword in keywords_in(query):
            for index in range(counts.get(keyword, 0)):
                for way in ("portrait", "landscape"):
                    if orientation in (None, "", "all", "square") or orientation == way:
                        number = 1000 * (list(KEYWORDS).index(keyword) + 1) + 10 * index + (way == "landscape")
                        found.append({"id": number, "keyword": keyword, "index": index, "way": way,
                                      "duration": self.catalog.durations[index % len(self.catalog.durations)]})
        return found

    def media_file(self, name: str) -> Path:
        """Make (once) the file /media/NAME names: KIND-KEYWORD-INDEX-WxH-DURATION.EXT."""
        match = re.fullmatch(r"(clip|still)-([a-z]+)-(\d+)-(\d+)x(\d+)-([\d.]+)\.(mp4|jpg|png)", name)
        if not match or match.group(2) not in KEYWORDS:
            raise FileNotFoundError(name)
        kind, keyword, index, width, height, duration, ext = match.groups()
        path = self.root / "media" / name
        with self.media_lock:
            if not path.is_file():
                path.parent.mkdir(parents=True, exist_ok=True)
                make_media(path, colour_of(keyword, int(index)), int(width), int(height), float(duration))
        return path

    def media_url(self, base: str, kind: str, asset: dict, width: int, height: int, ext: str) -> str:
        duration = asset["duration"] if kind == "clip" else 0
        return f"{base}/media/{kind}-{asset['keyword']}-{asset['index']}-{width}x{height}-{duration}.{ext}"

    # --- dispatch ---------------------------------------------------------------------------------------
    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        parsed = urllib.parse.urlsplit(handler.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query, keep_blank_values=True).items()}
        path = parsed.path
        service = ("pexels" if path in ("/videos/search", "/v1/search") else
                   "pixabay" if path in ("/api/", "/api/videos/") else
                   "images" if path == "/v1/images/generations" else "media" if path.startswith("/media/") else "other")
        key = self._key(service, handler, query)
        entry = {"service": service, "method": handler.command, "path": path, "query": query, "key": key,
                 "range": handler.headers.get("Range"), "status": 0}
        with self.lock:
            self.requests.append(entry)
        base = f"http://{handler.headers.get('Host')}"
        if service == "media":
            entry["status"] = self.serve_media(handler, path[len("/media/"):])
            return
        status, headers, body = self.api(service, handler, path, query, key, base)
        entry["status"] = status
        send(handler, status, headers, body)

    def _key(self, service: str, handler, query: dict) -> str:
        auth = handler.headers.get("Authorization") or ""
        if service == "pexels":
            return auth
        if service == "images":
            return auth[7:] if auth.startswith("Bearer ") else ""
        return query.get("key", "")

    def api(self, service, handler, path, query, key, base) -> tuple[int, dict, bytes]:
        if service == "other":
            return 404, {"Content-Type": "text/plain"}, b"Not Found"
        if service == "images" and handler.command != "POST" or service != "images" and handler.command != "GET":
            return 405, {"Content-Type": "text/plain"}, b"Method Not Allowed"
        if key not in self.keys[service]:
            return self._bad_key(service)
        if self._take(self.faults.rate_limited_keys, key) or self._take(self.faults.rate_limit, service):
            headers = {"Content-Type": "text/plain"}
            if self.faults.retry_after:
                headers["Retry-After"] = self.faults.retry_after
            return 429, headers, b"Too Many Requests"
        if self._take(self.faults.server_errors, service):
            return 503, {"Content-Type": "text/plain"}, b"Service Unavailable"
        if service == "pexels":
            return self.pexels(path, query, base)
        if service == "pixabay":
            return self.pixabay(path, query, base)
        length = int(handler.headers.get("Content-Length") or 0)
        return self.images(json.loads(handler.rfile.read(length) or b"{}"), base)

    def _bad_key(self, service: str) -> tuple[int, dict, bytes]:
        if service == "pixabay":
            return 400, {"Content-Type": "text/plain"}, b"[ERROR 400] Invalid or missing API key ([key])."
        if service == "images":
            return _openai_error(401, "Incorrect API key provided.", "invalid_request_error", None, "invalid_api_key")
        return 401, {"Content-Type": "application/json"}, json.dumps({"error": "Unauthorized"}).encode()

    # --- Pexels -----------------------------------------------------------------------------------------
    def pexels(self, path: str, query: dict, base: str) -> tuple[int, dict, bytes]:
        if not query.get("query"):
            return 400, {"Content-Type": "application/json"}, json.dumps({"error": "query is required"}).encode()
        per_page = min(80, int(query.get("per_page") or 15))
        page = max(1, int(query.get("page") or 1))
        kind = "videos" if path == "/videos/search" else "photos"
        found = self.assets("pexels", kind, query["query"], query.get("orientation"))
        items = [self._pexels_video(a, base) if kind == "videos" else self._pexels_photo(a, base)
                 for a in found[(page - 1) * per_page: page * per_page]]
        answer = {"page": page, "per_page": per_page, "total_results": len(found), kind: items}
        if page * per_page < len(found):
            answer["next_page"] = f"{base}{path}?{urllib.parse.urlencode({**query, 'page': page + 1})}"
        headers = {"Content-Type": "application/json", "X-Ratelimit-Limit": "20000",
                   "X-Ratelimit-Remaining": str(max(0, 20000 - self.count("pexels"))),
                   "X-Ratelimit-Reset": str(int(time.time()) + 30 * 86400)}
        return 200, headers, json.dumps(answer).encode()

    def _pexels_video(self, asset: dict, base: str) -> dict:
        sizes = [(180, 320), (360, 640)] if asset["way"] == "portrait" else [(320, 180), (640, 360)]  # small: quick to make
        slug = f"{asset['keyword']}-{asset['id']}"
        return {
            "id": asset["id"], "width": sizes[-1][0], "height": sizes[-1][1], "duration": int(asset["duration"]),
            "full_res": None, "tags": [], "url": f"https://www.pexels.com/video/{slug}/",
            "image": f"{base}/media/still-{asset['keyword']}-{asset['index']}-{sizes[0][0]}x{sizes[0][1]}-0.jpg",
            "avg_color": None, "user": {"id": 100 + asset["index"], "name": f"Pexels Filmer {asset['index'] + 1}",
                                        "url": "https://www.pexels.com/@filmer"},
            "video_files": [{"id": asset["id"] * 10 + n, "quality": "sd" if w * h < 900_000 else "hd",
                             "file_type": "video/mp4", "width": w, "height": h, "fps": 10,
                             "link": self.media_url(base, "clip", asset, w, h, "mp4")}
                            for n, (w, h) in enumerate(sizes)],
            "video_pictures": [],
        }

    def _pexels_photo(self, asset: dict, base: str) -> dict:
        big = (800, 1200) if asset["way"] == "portrait" else (1200, 800)
        url = lambda w, h: self.media_url(base, "still", asset, w, h, "jpg")  # noqa: E731
        return {
            "id": asset["id"], "width": big[0], "height": big[1],
            "url": f"https://www.pexels.com/photo/{asset['keyword']}-{asset['id']}/",
            "photographer": f"Pexels Photographer {asset['index'] + 1}", "photographer_url": "https://www.pexels.com/@p",
            "photographer_id": 200 + asset["index"], "avg_color": "#%02X%02X%02X" % colour_of(asset["keyword"]),
            "src": {"original": url(*big), "large2x": url(*big), "large": url(big[0] // 2, big[1] // 2),
                    "medium": url(big[0] // 4, big[1] // 4), "small": url(big[0] // 8, big[1] // 8),
                    "portrait": url(800, 1200), "landscape": url(1200, 627), "tiny": url(280, 200)},
            "liked": False, "alt": f"{asset['keyword']} photo",
        }

    # --- Pixabay ----------------------------------------------------------------------------------------
    def pixabay(self, path: str, query: dict, base: str) -> tuple[int, dict, bytes]:
        per_page = int(query.get("per_page") or 20)
        if not 3 <= per_page <= 200:
            return 400, {"Content-Type": "text/plain"}, b'[ERROR 400] "per_page" is out of valid range.'
        page = max(1, int(query.get("page") or 1))
        videos = path == "/api/videos/"
        orientation = {"vertical": "portrait", "horizontal": "landscape"}.get(query.get("orientation", ""))
        found = self.assets("pixabay", "videos" if videos else "images", query.get("q", ""),
                            None if videos else orientation)
        if (page - 1) * per_page > len(found):
            return 400, {"Content-Type": "text/plain"}, b'[ERROR 400] "page" is out of valid range.'
        hits = [self._pixabay_video(a, base) if videos else self._pixabay_image(a, base)
                for a in found[(page - 1) * per_page: page * per_page]]
        headers = {"Content-Type": "application/json", "X-RateLimit-Limit": "100",
                   "X-RateLimit-Remaining": str(max(0, 100 - self.count("pixabay"))), "X-RateLimit-Reset": "60"}
        return 200, headers, json.dumps({"total": len(found), "totalHits": len(found), "hits": hits}).encode()

    def _pixabay_video(self, asset: dict, base: str) -> dict:
        portrait = asset["way"] == "portrait"
        sizes = {"large": (1080, 1920), "medium": (360, 640), "small": (270, 480), "tiny": (180, 320)}
        renditions = {}
        for name, (w, h) in sizes.items():
            w, h = (w, h) if portrait else (h, w)
            # Like the real API, the large rendition is often missing: an empty url and zero sizes.
            if name == "large":
                renditions[name] = {"url": "", "width": 0, "height": 0, "size": 0, "thumbnail": ""}
                continue
            renditions[name] = {"url": self.media_url(base, "clip", asset, w, h, "mp4"), "width": w, "height": h,
                                "size": 0, "thumbnail": self.media_url(base, "still", asset, w, h, "jpg")}
        return {"id": asset["id"], "pageURL": f"https://pixabay.com/videos/{asset['keyword']}-{asset['id']}/",
                "type": "film", "tags": asset["keyword"], "duration": int(asset["duration"]), "videos": renditions,
                "views": 1, "downloads": 1, "likes": 1, "comments": 0, "user_id": 300 + asset["index"],
                "user": f"pixabay_user_{asset['index'] + 1}", "userImageURL": ""}

    def _pixabay_image(self, asset: dict, base: str) -> dict:
        w, h = (853, 1280) if asset["way"] == "portrait" else (1280, 853)
        return {"id": asset["id"], "pageURL": f"https://pixabay.com/photos/{asset['keyword']}-{asset['id']}/",
                "type": "photo", "tags": asset["keyword"],
                "previewURL": self.media_url(base, "still", asset, w // 8, h // 8, "jpg"),
                "webformatURL": self.media_url(base, "still", asset, w // 2, h // 2, "jpg"),
                "largeImageURL": self.media_url(base, "still", asset, w, h, "jpg"),
                "imageWidth": w * 3, "imageHeight": h * 3, "views": 1, "downloads": 1, "likes": 1,
                "user_id": 400 + asset["index"], "user": f"pixabay_photographer_{asset['index'] + 1}"}

    # --- OpenAI images ----------------------------------------------------------------------------------
    def images(self, body: dict, base: str) -> tuple[int, dict, bytes]:
        model, size, prompt = body.get("model") or "dall-e-2", body.get("size") or "1024x1024", body.get("prompt")
        if not prompt:
            return _openai_error(400, "Missing required parameter: 'prompt'.", "invalid_request_error", "prompt")
        allowed = {"dall-e-2": ["256x256", "512x512", "1024x1024"],
                   "dall-e-3": ["1024x1024", "1792x1024", "1024x1792"],
                   "gpt-image-1": ["1024x1024", "1536x1024", "1024x1536", "auto"], **self.faults.image_sizes}
        if model in allowed and size not in allowed[model]:
            listed = ", ".join(f"'{s}'" for s in allowed[model])
            return _openai_error(400, f"Invalid value: '{size}'. Supported values are: {listed}.",
                                 "invalid_request_error", "size", "invalid_value")
        if not re.fullmatch(r"\d{2,4}x\d{2,4}|auto", size):
            return _openai_error(400, f"Invalid value: '{size}'.", "invalid_request_error", "size", "invalid_value")
        form = body.get("response_format")
        if model.startswith("gpt-image") and form is not None:
            return _openai_error(400, "Unknown parameter: 'response_format'.", "invalid_request_error",
                                 "response_format", "unknown_parameter")
        form = self.faults.image_answer or form or ("b64_json" if model.startswith("gpt-image") else "url")
        width, height = (1024, 1024) if size == "auto" else map(int, size.split("x"))
        keyword = (keywords_in(prompt) or ["night"])[0]
        name = f"still-{keyword}-0-{width}x{height}-0.png"
        item = {"revised_prompt": prompt} if model == "dall-e-3" else {}
        if form == "b64_json":
            item["b64_json"] = base64.b64encode(self.media_file(name).read_bytes()).decode()
        else:
            item["url"] = f"{base}/media/{name}"
        answer = {"created": int(time.time()), "data": [item]}
        if model.startswith("gpt-image"):
            answer["usage"] = {"input_tokens": len(prompt.split()), "output_tokens": 4160, "total_tokens": 4200}
        return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()

    # --- media ------------------------------------------------------------------------------------------
    def serve_media(self, handler, name: str) -> int:
        try:
            data = self.media_file(name).read_bytes()
        except FileNotFoundError:
            send(handler, 404, {"Content-Type": "text/plain"}, b"Not Found")
            return 404
        kind = {"mp4": "video/mp4", "jpg": "image/jpeg", "png": "image/png"}[name.rsplit(".", 1)[1]]
        if self._take_count("corrupt_downloads"):
            data = bytes((b * 7 + 13) % 256 for b in data[::-1])  # same length, unreadable
        start, status, headers = 0, 200, {"Content-Type": kind, "Accept-Ranges": "bytes"}
        wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", handler.headers.get("Range") or "")
        if wanted:
            start = int(wanted.group(1))
            end = min(int(wanted.group(2) or len(data) - 1), len(data) - 1)
            if start >= len(data):
                send(handler, 416, {"Content-Range": f"bytes */{len(data)}"}, b"")
                return 416
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            data = data[start:end + 1]
        if self._take_count("drop_downloads"):
            send(handler, status, headers, data, cut_at=max(1, len(data) // 2))
            return -status
        send(handler, status, headers, data)
        return status

    # --- lifecycle --------------------------------------------------------------------------------------
    def start(self, port: int = 0) -> "VisualsServer":
        self.httpd = loopback.serve(self.handle, port, name="visuals-server")
        return self

    @property
    def url(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment that points every provider here, with one good key each."""
        return {"CS_PEXELS_URL": self.url, "CS_PIXABAY_URL": self.url, "CS_IMAGES_BASE_URL": f"{self.url}/v1",
                "PEXELS_API_KEY": "pexels-key-1", "PIXABAY_API_KEY": "pixabay-key-1",
                "CS_IMAGES_API_KEY": "images-key", **extra}

    def stop(self) -> None:
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()

    def __enter__(self) -> "VisualsServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def send(handler, status: int, headers: dict, body: bytes, cut_at: int | None = None) -> None:
    """Answer with Content-Length; with CUT_AT, send that many body bytes and close the connection."""
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if cut_at is None:
        handler.wfile.write(body)
        return
    handler.wfile.write(body[:cut_at])
    handler.wfile.flush()
    handler.close_connection = True
    try:
        handler.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _openai_error(status: int, message: str, kind: str, param: str | None, code: str | None = None):
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def make_media(path: Path, rgb: tuple[int, int, int], width: int, height: int, duration: float) -> None:
    """A solid-colour MP4 (ffmpeg) or JPEG/PNG (Pillow), written to a temp file and renamed."""
    temp = path.with_name(f".{path.name}.tmp{path.suffix}")
    if path.suffix == ".mp4":
        colour = "0x%02X%02X%02X" % rgb
        argv = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-f", "lavfi",
                "-i", f"color=c={colour}:s={width}x{height}:d={duration}:r=10", "-c:v", "libx264",
                "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(temp)]
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"ffmpeg could not make {path.name}: {done.stderr}")
    else:
        from PIL import Image

        buffer = io.BytesIO()
        Image.new("RGB", (width, height), rgb).save(buffer, "PNG" if path.suffix == ".png" else "JPEG", quality=90)
        temp.write_bytes(buffer.getvalue())
    os.replace(temp, path)


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Loopback Pexels, Pixabay and OpenAI images test server.")
    parser.add_argument("--root", required=True, help="folder for the media it makes")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = VisualsServer(args.root).start(args.port)
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
