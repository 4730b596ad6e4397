"""A loopback YouTube Data API v3 server for tests and benchmarks, speaking the protocol the real
google-api-python-client uses.

What it implements:
- OAuth: an auto-consenting authorization endpoint (`/o/oauth2/auth`, redirects to the loopback redirect
  with a code) and a token endpoint (`/token`: authorization_code and refresh_token grants).
- Resumable uploads (`POST /upload/youtube/v3/videos?uploadType=resumable` -> `Location` with an
  upload_id; `PUT` chunks with `Content-Range: bytes A-B/SIZE` -> 308 + `Range`, the final one -> 200 with
  the video; offset queries with `Content-Range: bytes */SIZE`). Chunk bytes stream to disk, never memory,
  so 1 GB uploads work; a dropped connection commits what arrived, rounded down to 256 KiB as Google does.
- Media uploads: thumbnails.set (uploadType=media or multipart), captions.insert (multipart/related).
- channels.list (mine), videos.list (id list; snippet, statistics, contentDetails, status), playlists.list
  (mine/id, paging), playlists.insert, playlistItems.list (playlistId, videoId, paging; the uploads playlist
  lists every video), playlistItems.insert, captions.list.
- Google's JSON error shape and YouTube's limits (title <= 100 chars, no < or >, description <= 5000 bytes,
  tags <= 500 chars, thumbnail <= 50 MB JPEG/PNG, publishAt only with private and in the future).
- A quota counter per call (same unit costs as the real API) and injectable faults (`state.faults`).

Extending it (cs-stats adds the Analytics API this way):
    server = YouTubeServer(tmp_path)
    server.route("GET", r"/v2/reports", lambda req: Response.json({...}))
    server.start()
Handlers get a `Request` and return a `Response`; `server.state` is shared and lock-protected
(`with server.state.lock:`). Run standalone for benchmarks: `python tests/youtube_server.py --root DIR`
prints the endpoint URL, then serves until killed; `--token-file FILE` writes a usable token.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.parser
import email.policy
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
import loopback

CHUNK_GRANULARITY = 256 * 1024
THUMBNAIL_MAX = 50 * 1024 * 1024  # thumbnails.set since 2026-09-14
SCOPE_UPLOAD = "https://www.googleapis.com/auth/youtube.upload"
SCOPE_YOUTUBE = "https://www.googleapis.com/auth/youtube"
SCOPE_FORCE_SSL = "https://www.googleapis.com/auth/youtube.force-ssl"
SCOPE_READONLY = "https://www.googleapis.com/auth/youtube.readonly"
SCOPE_ANALYTICS = "https://www.googleapis.com/auth/yt-analytics.readonly"
ALL_SCOPES = [SCOPE_UPLOAD, SCOPE_YOUTUBE, SCOPE_FORCE_SSL, SCOPE_READONLY, SCOPE_ANALYTICS]
WRITE_SCOPES = {SCOPE_YOUTUBE, SCOPE_FORCE_SSL}
READ_SCOPES = {SCOPE_YOUTUBE, SCOPE_FORCE_SSL, SCOPE_READONLY}
# The real API's unit costs (https://developers.google.com/youtube/v3/determine_quota_cost, read 2026-11-28):
# videos.insert and search.list draw 1 per call on buckets of their own (100 a day each by default); every
# other method spends units from 10,000 a day.
OWN_BUCKETS = {"videos.insert": "uploads", "search.list": "searches"}
COSTS = {
    "videos.insert": 1, "search.list": 1, "videos.list": 1, "videos.update": 50, "thumbnails.set": 50,
    "captions.insert": 400, "captions.list": 50, "channels.list": 1, "playlists.list": 1,
    "playlists.insert": 50, "playlistItems.list": 1, "playlistItems.insert": 50,
    "reports.query": 0,  # the Analytics API has its own quota
}
CATEGORY_IDS = {"1", "2", "10", "15", "17", "19", "20", "22", "23", "24", "25", "26", "27", "28", "29"}


class ApiError(Exception):
    """Raised by a handler: becomes Google's error JSON."""

    def __init__(self, code: int, reason: str, message: str, domain: str = "youtube.api", headers: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.domain = code, reason, message, domain
        self.headers = headers or {}

    def response(self) -> "Response":
        body = {"error": {"code": self.code, "message": self.message,
                          "errors": [{"domain": self.domain, "reason": self.reason, "message": self.message}]}}
        return Response.json(body, self.code, self.headers)


@dataclass
class Response:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    drop: bool = False  # close the connection without answering

    @classmethod
    def json(cls, value: Any, status: int = 200, headers: dict | None = None) -> "Response":
        return cls(status, {"Content-Type": "application/json; charset=UTF-8", **(headers or {})},
                   json.dumps(value).encode())


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Any  # email.message.Message: case-insensitive
    handler: "BaseHTTPRequestHandler"
    match: re.Match | None = None
    _body: bytes | None = None

    @property
    def length(self) -> int:
        return int(self.headers.get("Content-Length") or 0)

    def body(self) -> bytes:
        if self._body is None:
            self._body = self.handler.rfile.read(self.length) if self.length else b""
        return self._body

    def json(self) -> Any:
        raw = self.body()
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            raise ApiError(400, "parseError", "Parse Error", "global") from None

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in urllib.parse.parse_qs(self.body().decode()).items()}

    def base_url(self) -> str:
        return f"http://{self.headers.get('Host')}"


@dataclass
class Faults:
    """Injected failures. Counters decrement as they fire."""

    chunk_errors: list[int] = field(default_factory=list)  # statuses for the next chunk PUTs (503, 429...)
    drop_after_bytes: int | None = None  # next chunk PUT: close the connection after this many body bytes
    drop_before_response: int = 0  # next N chunk PUTs: read the whole chunk, commit it, answer nothing
    stall_at_bytes: int | None = None  # hold the PUT once this many bytes of the file have arrived
    stall_final_response: bool = False  # make the video, then hold the answer (the client is killed meanwhile)
    stalled: threading.Event = field(default_factory=threading.Event)  # set when the stall begins
    release: threading.Event = field(default_factory=threading.Event)  # set to let a stalled PUT go on
    quota_exhausted: bool = False  # 403 quotaExceeded on every Data API call
    upload_limit: bool = False  # 400 uploadLimitExceeded on videos.insert
    rate_limited: int = 0  # next N Data API calls answer 403 rateLimitExceeded
    api_errors: list[int] = field(default_factory=list)  # statuses for the next non-upload API calls


@dataclass
class Session:
    upload_id: str
    path: Path
    size: int
    content_type: str
    resource: dict
    part: str
    committed: int = 0
    video_id: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class YouTubeState:
    """Everything the server knows, on disk under ROOT. Tests read and set it directly."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        (self.root / "sessions").mkdir(parents=True, exist_ok=True)
        (self.root / "videos").mkdir(exist_ok=True)
        (self.root / "media").mkdir(exist_ok=True)
        self.lock = threading.RLock()
        self.client_id = "test-client.apps.googleusercontent.com"
        self.client_secret = "test-secret"
        self.channel = {"id": "UCtest" + secrets.token_hex(8), "title": "Test Channel", "subscribers": 0}
        self.videos: dict[str, dict] = {}  # id -> {"resource", "path", "size"}
        self.playlists: dict[str, dict] = {}
        self.playlist_items: dict[str, dict] = {}
        self.thumbnails: dict[str, dict] = {}  # video id -> {"path", "size", "content_type"}
        self.captions: dict[str, dict] = {}  # caption id -> {"resource", "path"}
        self.sessions: dict[str, Session] = {}
        self.access_tokens: dict[str, dict] = {}  # token -> {"scopes", "expires", "refresh"}
        self.refresh_tokens: dict[str, dict] = {}  # token -> {"scopes", "revoked"}
        self.codes: dict[str, dict] = {}
        self.faults = Faults()
        self.quota_limit = 10_000  # units for the methods outside OWN_BUCKETS
        self.quota_used = 0
        self.bucket_limits = {"uploads": 100, "searches": 100}
        self.bucket_used = {"uploads": 0, "searches": 0}
        self.calls: list[tuple[str, str, int]] = []  # (method, path, status), for assertions
        self.bytes_received = 0

    # --- helpers for tests ----------------------------------------------------------------------------
    @property
    def uploads_playlist(self) -> str:
        return "UU" + self.channel["id"][2:]

    def issue_refresh_token(self, scopes: list[str] | None = None) -> str:
        token = "1//test-refresh-" + secrets.token_urlsafe(12)
        with self.lock:
            self.refresh_tokens[token] = {"scopes": list(scopes or ALL_SCOPES), "revoked": False}
        return token

    def issue_access_token(self, refresh: str, lifetime: int = 3600) -> tuple[str, int]:
        token = "ya29.test-" + secrets.token_urlsafe(16)
        with self.lock:
            self.access_tokens[token] = {"scopes": self.refresh_tokens[refresh]["scopes"],
                                         "expires": time.time() + lifetime, "refresh": refresh}
        return token, lifetime

    def revoke_all(self) -> None:
        with self.lock:
            for info in self.refresh_tokens.values():
                info["revoked"] = True
            self.access_tokens.clear()

    def expire_access_tokens(self) -> None:
        with self.lock:
            for info in self.access_tokens.values():
                info["expires"] = 0

    def video_sha256(self, video_id: str) -> str:
        digest = hashlib.sha256()
        with open(self.videos[video_id]["path"], "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        return digest.hexdigest()

    def add_video(self, title: str, *, published_at: str | None = None, duration: str = "PT1M",
                  statistics: dict | None = None, privacy: str = "public", description: str = "",
                  tags: list[str] | None = None, size: tuple[int, int] | None = None) -> str:
        """A video that exists without an upload (for cs-stats tests). Like the real API, the snippet has
        `tags` only when the video has some, and `fileDetails` (owner only) the stream's size when known."""
        video_id = _new_id()
        snippet = {"title": title, "description": description, **({"tags": list(tags)} if tags else {})}
        resource = _video_resource(video_id, {"snippet": snippet, "status": {"privacyStatus": privacy}},
                                   self.channel)
        if size:
            resource["fileDetails"] = {"videoStreams": [{"widthPixels": size[0], "heightPixels": size[1]}]}
        if published_at:
            resource["snippet"]["publishedAt"] = published_at
        resource["contentDetails"]["duration"] = duration
        if statistics:
            resource["statistics"].update({k: str(v) for k, v in statistics.items()})
        with self.lock:
            self.videos[video_id] = {"resource": resource, "path": None, "size": 0}
        return video_id

    def set_statistics(self, video_id: str, **values: int) -> None:
        with self.lock:
            self.videos[video_id]["resource"]["statistics"].update({k: str(v) for k, v in values.items()})

    def playlist_video_ids(self, playlist_id: str) -> list[str]:
        return [item["snippet"]["resourceId"]["videoId"] for item in self.playlist_items.values()
                if item["snippet"]["playlistId"] == playlist_id]

    def token_file(self, path: str | os.PathLike, endpoint: str, *, scopes: list[str] | None = None,
                   expired: bool = True) -> Path:
        """Write google-auth's authorized-user JSON, as `cs-publish auth` saves it; expired by default so
        the first call goes through the token endpoint."""
        refresh = self.issue_refresh_token(scopes)
        token, _ = self.issue_access_token(refresh)
        if expired:
            self.access_tokens[token]["expires"] = 0
        expiry = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=-60 if expired else 3600)
        info = {"token": token, "refresh_token": refresh, "token_uri": endpoint.rstrip("/") + "/token",
                "client_id": self.client_id, "client_secret": self.client_secret,
                "scopes": list(scopes or ALL_SCOPES), "expiry": expiry.strftime("%Y-%m-%dT%H:%M:%SZ")}
        Path(path).write_text(json.dumps(info))
        os.chmod(path, 0o600)
        return Path(path)

    def client_secrets_file(self, path: str | os.PathLike, endpoint: str) -> Path:
        base = endpoint.rstrip("/")
        info = {"installed": {"client_id": self.client_id, "client_secret": self.client_secret,
                              "auth_uri": base + "/o/oauth2/auth", "token_uri": base + "/token",
                              "redirect_uris": ["http://localhost"]}}
        Path(path).write_text(json.dumps(info))
        return Path(path)


def _new_id() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(9)).decode()[:11]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _video_resource(video_id: str, body: dict, channel: dict) -> dict:
    snippet = dict(body.get("snippet") or {})
    status = dict(body.get("status") or {})
    status.setdefault("privacyStatus", "public")
    status.setdefault("uploadStatus", "uploaded")
    if "selfDeclaredMadeForKids" in status:
        status["madeForKids"] = status["selfDeclaredMadeForKids"]
    snippet.update({"channelId": channel["id"], "channelTitle": channel["title"], "publishedAt": _now()})
    snippet.setdefault("description", "")
    snippet.setdefault("categoryId", "22")
    return {"kind": "youtube#video", "etag": secrets.token_hex(8), "id": video_id, "snippet": snippet,
            "localizations": dict(body.get("localizations") or {}),
            "status": status, "contentDetails": {"duration": "PT0S", "definition": "hd", "caption": "false"},
            "statistics": {"viewCount": "0", "likeCount": "0", "favoriteCount": "0", "commentCount": "0"}}


def validate_localizations(body: dict, default_language: str | None) -> None:
    """YouTube takes localized titles and descriptions only from a video with a default language, keyed by
    language tags, each within the video limits."""
    localizations = body.get("localizations")
    if not localizations:
        return
    if not default_language:
        raise ApiError(400, "defaultLanguageNotSet", "The request is trying to add localized video details "
                       "without specifying the default language of the video details.", "youtube.video")
    for language, entry in localizations.items():
        if not re.match(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$", language) or not isinstance(entry, dict):
            raise ApiError(400, "invalidLocalizations", f"Invalid localization language {language!r}.", "youtube.video")
        title, description = entry.get("title") or "", entry.get("description") or ""
        if not title or len(title) > 100 or "<" in title or ">" in title or len(description.encode()) > 5000:
            raise ApiError(400, "invalidLocalizations", f"Invalid localized title or description for {language}.",
                           "youtube.video")


def validate_video(body: dict, *, insert: bool = True) -> None:
    """YouTube's metadata limits, with the reasons the real API gives."""
    snippet = body.get("snippet") or {}
    status = body.get("status") or {}
    title = snippet.get("title")
    if insert and not title:
        raise ApiError(400, "invalidTitle", "The request metadata specifies an invalid or empty video title.", "youtube.video")
    if title is not None and (len(title) > 100 or "<" in title or ">" in title):
        raise ApiError(400, "invalidTitle", "The request metadata specifies an invalid video title.", "youtube.video")
    description = snippet.get("description") or ""
    if len(description.encode()) > 5000 or "<" in description or ">" in description:
        raise ApiError(400, "invalidDescription", "The request metadata specifies an invalid video description.", "youtube.video")
    tags = snippet.get("tags") or []
    length = sum(len(t) + (2 if " " in t else 0) for t in tags) + max(len(tags) - 1, 0)
    if length > 500 or any("<" in t or ">" in t for t in tags):
        raise ApiError(400, "invalidTags", "The request metadata specifies invalid video keywords.", "youtube.video")
    if "categoryId" in snippet and str(snippet["categoryId"]) not in CATEGORY_IDS:
        raise ApiError(400, "invalidCategoryId", "The snippet.categoryId property specifies an invalid category ID.", "youtube.video")
    privacy = status.get("privacyStatus", "public")
    if privacy not in ("public", "unlisted", "private"):
        raise ApiError(400, "invalidVideoMetadata", f"Invalid privacyStatus {privacy!r}.", "youtube.video")
    if status.get("publishAt"):
        try:
            when = dt.datetime.fromisoformat(status["publishAt"].replace("Z", "+00:00"))
        except ValueError:
            raise ApiError(400, "invalidPublishAt", "The request metadata specifies an invalid scheduled publishing time.", "youtube.video") from None
        if privacy != "private" or when.tzinfo is None or when <= dt.datetime.now(dt.timezone.utc):
            raise ApiError(400, "invalidPublishAt", "The request metadata specifies an invalid scheduled publishing time.", "youtube.video")


def _page(items: list, req: Request, default: int = 5) -> dict:
    size = min(int(req.query.get("maxResults", default)), 50)
    start = int(req.query.get("pageToken") or 0)
    page = {"items": items[start:start + size], "pageInfo": {"totalResults": len(items), "resultsPerPage": size}}
    if start + size < len(items):
        page["nextPageToken"] = str(start + size)
    if start:
        page["prevPageToken"] = str(max(start - size, 0))
    return page


def _parts(req: Request, resource: dict) -> dict:
    wanted = set((req.query.get("part") or "").split(","))
    return {k: v for k, v in resource.items() if k in ("kind", "etag", "id") or k in wanted}


class YouTubeServer:
    """The server: `start()` on a thread (127.0.0.1, ephemeral port), `url`, `stop()`; `route()` adds
    handlers (checked before the built-in ones)."""

    def __init__(self, root: str | os.PathLike):
        self.state = YouTubeState(root)
        self.routes: list[tuple[str, re.Pattern, Callable[[Request], Response], str | None]] = []
        self._builtin()
        self.httpd: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    # --- routing --------------------------------------------------------------------------------------
    def route(self, method: str, pattern: str, handler: Callable[[Request], Response], *,
              cost: str | None = None, scopes: set[str] | None = None, first: bool = True) -> None:
        """Serve METHOD requests whose path fully matches PATTERN. With `scopes`, a valid bearer token with
        one of those scopes is required; with `cost`, the call is charged against the quota."""
        entry = (method, re.compile(pattern), handler, cost, scopes)
        if first:
            self.routes.insert(0, entry)
        else:
            self.routes.append(entry)

    def _builtin(self) -> None:
        r = lambda m, p, h, cost=None, scopes=None: self.route(m, p, h, cost=cost, scopes=scopes, first=False)
        r("GET", r"/o/oauth2/auth", self.authorize)
        r("POST", r"/token", self.token)
        r("POST", r"/upload/youtube/v3/videos", self.videos_insert, "videos.insert", WRITE_SCOPES | {SCOPE_UPLOAD})
        r("PUT", r"/upload/youtube/v3/videos", self.upload_chunk)
        r("POST", r"/upload/youtube/v3/thumbnails/set", self.thumbnails_set, "thumbnails.set", WRITE_SCOPES | {SCOPE_UPLOAD})
        r("POST", r"/upload/youtube/v3/captions", self.captions_insert, "captions.insert", {SCOPE_FORCE_SSL})
        r("GET", r"/youtube/v3/captions", self.captions_list, "captions.list", {SCOPE_FORCE_SSL})
        r("GET", r"/youtube/v3/channels", self.channels_list, "channels.list", READ_SCOPES | {SCOPE_UPLOAD})
        r("GET", r"/youtube/v3/videos", self.videos_list, "videos.list", READ_SCOPES | {SCOPE_UPLOAD})
        r("PUT", r"/youtube/v3/videos", self.videos_update, "videos.update", WRITE_SCOPES)
        r("GET", r"/youtube/v3/playlists", self.playlists_list, "playlists.list", READ_SCOPES)
        r("POST", r"/youtube/v3/playlists", self.playlists_insert, "playlists.insert", WRITE_SCOPES)
        r("GET", r"/youtube/v3/playlistItems", self.playlist_items_list, "playlistItems.list", READ_SCOPES)
        r("POST", r"/youtube/v3/playlistItems", self.playlist_items_insert, "playlistItems.insert", WRITE_SCOPES)

    def dispatch(self, handler: BaseHTTPRequestHandler) -> Response:
        parsed = urllib.parse.urlsplit(handler.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query, keep_blank_values=True).items()}
        req = Request(handler.command, parsed.path, query, handler.headers, handler)
        for method, pattern, fn, cost, scopes in self.routes:
            if method == req.method and (match := pattern.fullmatch(req.path)):
                req.match = match
                try:
                    if scopes is not None:
                        self._authorize_call(req, scopes, cost)
                    return fn(req)
                except ApiError as exc:
                    return exc.response()
        return ApiError(404, "notFound", f"No route for {req.method} {req.path}", "global").response()

    def _authorize_call(self, req: Request, scopes: set[str], cost: str | None) -> None:
        state = self.state
        auth = req.headers.get("Authorization") or ""
        token = auth[7:] if auth.startswith("Bearer ") else ""
        with state.lock:
            info = state.access_tokens.get(token)
            if not info or info["expires"] < time.time() or state.refresh_tokens[info["refresh"]]["revoked"]:
                raise ApiError(401, "authError", "Request had invalid authentication credentials.", "global",
                               {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'})
            if not scopes & set(info["scopes"]):
                raise ApiError(403, "insufficientPermissions", "Request had insufficient authentication scopes.", "global")
            faults = state.faults
            if faults.api_errors and cost != "videos.insert":
                code = faults.api_errors.pop(0)
                raise ApiError(code, "backendError", "Backend Error", "global")
            if faults.rate_limited:
                faults.rate_limited -= 1
                raise ApiError(403, "rateLimitExceeded", "The request cannot be completed because you have exceeded your quota.", "youtube.quota")
            units = COSTS.get(cost or "", 1)
            bucket = OWN_BUCKETS.get(cost or "")
            used, limit = ((state.bucket_used[bucket], state.bucket_limits[bucket]) if bucket
                           else (state.quota_used, state.quota_limit))
            if faults.quota_exhausted or used + units > limit:
                raise ApiError(403, "quotaExceeded", "The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.", "youtube.quota")
            if cost == "videos.insert" and faults.upload_limit:
                raise ApiError(400, "uploadLimitExceeded", "The user has exceeded the number of videos they may upload.", "youtube.video")
            if bucket:
                state.bucket_used[bucket] += units
            else:
                state.quota_used += units

    # --- OAuth ----------------------------------------------------------------------------------------
    def authorize(self, req: Request) -> Response:
        """Consent at once: redirect back to the app's loopback redirect with a code."""
        q = req.query
        if q.get("client_id") != self.state.client_id:
            return Response.json({"error": "invalid_client"}, 401)
        code = "4/test-code-" + secrets.token_urlsafe(8)
        self.state.codes[code] = {"scopes": q.get("scope", "").split(), "redirect_uri": q.get("redirect_uri"),
                                  "challenge": q.get("code_challenge")}
        target = q["redirect_uri"] + "?" + urllib.parse.urlencode({"state": q.get("state", ""), "code": code, "scope": q.get("scope", "")})
        return Response(302, {"Location": target})

    def token(self, req: Request) -> Response:
        form = req.form()
        state = self.state
        basic = req.headers.get("Authorization") or ""
        if basic.startswith("Basic "):  # requests-oauthlib sends the client credentials this way
            user, _, password = base64.b64decode(basic[6:]).decode().partition(":")
            form.setdefault("client_id", urllib.parse.unquote_plus(user))
            form.setdefault("client_secret", urllib.parse.unquote_plus(password))
        if form.get("client_id") != state.client_id or form.get("client_secret") != state.client_secret:
            return Response.json({"error": "invalid_client", "error_description": "The OAuth client was not found."}, 401)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            info = state.codes.pop(form.get("code", ""), None)
            if not info or info["redirect_uri"] != form.get("redirect_uri"):
                return Response.json({"error": "invalid_grant", "error_description": "Bad Request"}, 400)
            if info["challenge"]:
                verifier = form.get("code_verifier", "").encode()
                expected = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
                if expected != info["challenge"]:
                    return Response.json({"error": "invalid_grant", "error_description": "Invalid code verifier."}, 400)
            refresh = state.issue_refresh_token(info["scopes"])
            token, lifetime = state.issue_access_token(refresh)
            return Response.json({"access_token": token, "expires_in": lifetime, "refresh_token": refresh,
                                  "scope": " ".join(info["scopes"]), "token_type": "Bearer"})
        if grant == "refresh_token":
            refresh = form.get("refresh_token", "")
            info = state.refresh_tokens.get(refresh)
            if not info or info["revoked"]:
                return Response.json({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}, 400)
            token, lifetime = state.issue_access_token(refresh)
            return Response.json({"access_token": token, "expires_in": lifetime,
                                  "scope": " ".join(info["scopes"]), "token_type": "Bearer"})
        return Response.json({"error": "unsupported_grant_type"}, 400)

    # --- resumable video upload -----------------------------------------------------------------------
    def videos_insert(self, req: Request) -> Response:
        if req.query.get("uploadType") != "resumable":
            raise ApiError(400, "badRequest", "This test server takes video uploads as uploadType=resumable only.", "global")
        body = req.json()
        validate_video(body)
        validate_localizations(body, (body.get("snippet") or {}).get("defaultLanguage"))
        size = req.headers.get("X-Upload-Content-Length")
        if size is None:
            raise ApiError(400, "badRequest", "X-Upload-Content-Length is required.", "global")
        upload_id = secrets.token_urlsafe(24)
        session = Session(upload_id, self.state.root / "sessions" / f"{upload_id}.part", int(size),
                          req.headers.get("X-Upload-Content-Type") or "application/octet-stream", body,
                          req.query.get("part", "snippet,status"))
        session.path.touch()
        with self.state.lock:
            self.state.sessions[upload_id] = session
        location = f"{req.base_url()}/upload/youtube/v3/videos?uploadType=resumable&upload_id={upload_id}"
        return Response(200, {"Location": location, "X-GUploader-UploadID": upload_id})

    def upload_chunk(self, req: Request) -> Response:
        session = self.state.sessions.get(req.query.get("upload_id", ""))
        if session is None:
            raise ApiError(404, "notFound", "The upload session was not found or has expired.", "global")
        spec = req.headers.get("Content-Range") or ""
        with session.lock:  # an offset query waits for a chunk still arriving on another connection
            if spec.startswith("bytes */"):
                req.body()
                return self._session_status(session)
            match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", spec)
            if not match:
                raise ApiError(400, "badRequest", f"Bad Content-Range {spec!r}.", "global")
            start, end = int(match[1]), int(match[2])
            length = req.length
            if session.video_id:
                req.handler.rfile.read(length)
                return self._session_status(session)
            if end - start + 1 != length or end >= session.size:
                raise ApiError(400, "badRequest", "Content-Range does not match the body.", "global")
            if start > session.committed:
                req.handler.rfile.read(length)
                return self._session_status(session)
            if end + 1 < session.size and length % CHUNK_GRANULARITY:
                raise ApiError(400, "badRequest", "Chunks other than the last must be a multiple of 256 KiB.", "global")
            faults = self.state.faults
            error = faults.chunk_errors.pop(0) if faults.chunk_errors else None
            drop_after = faults.drop_after_bytes
            faults.drop_after_bytes = None
            received = self._receive(req, session, start, length, drop_after)
            if received < length:  # connection dropped: keep whole 256 KiB units, as Google does
                session.committed = max(session.committed, start + received - (start + received) % CHUNK_GRANULARITY)
                return Response(drop=True)
            if error:
                code = error
                raise ApiError(code, "backendError" if code >= 500 else "rateLimitExceeded",
                               "Backend Error" if code >= 500 else "Too many requests", "global")
            session.committed = end + 1
            if faults.drop_before_response:
                faults.drop_before_response -= 1
                if session.committed == session.size:
                    self._finish(session)
                return Response(drop=True)
            if session.committed == session.size:
                self._finish(session)
                if faults.stall_final_response:
                    faults.stall_final_response = False
                    faults.stalled.set()
                    faults.release.wait(120)
                    return Response(drop=True)
            return self._session_status(session)

    def _receive(self, req: Request, session: Session, start: int, length: int, drop_after: int | None) -> int:
        """Stream the body to the session file at START; return how many bytes arrived."""
        faults = self.state.faults
        received = 0
        limit = length if drop_after is None else min(length, drop_after)
        with open(session.path, "r+b") as out:
            out.seek(start)
            while received < limit:
                want = min(1 << 20, limit - received)
                if faults.stall_at_bytes is not None:
                    gap = faults.stall_at_bytes - (start + received)
                    if gap <= 0:
                        out.flush()
                        faults.stalled.set()
                        faults.release.wait(120)
                        faults.stall_at_bytes = None
                        try:  # the client may be dead now: what still sits in the socket is read
                            req.handler.connection.settimeout(2)
                        except OSError:
                            pass
                        limit = length
                        continue
                    want = min(want, gap)
                try:
                    block = req.handler.rfile.read(want)
                except OSError:
                    block = b""
                if not block:
                    break
                out.write(block)
                received += len(block)
                with self.state.lock:
                    self.state.bytes_received += len(block)
        return received

    def _finish(self, session: Session) -> None:
        state = self.state
        video_id = _new_id()
        final = state.root / "videos" / f"{video_id}.bin"
        os.replace(session.path, final)
        resource = _video_resource(video_id, session.resource, state.channel)
        with state.lock:
            state.videos[video_id] = {"resource": resource, "path": final, "size": session.size}
            session.video_id = video_id
            item_id = "UUitem" + secrets.token_hex(6)
            state.playlist_items[item_id] = self._playlist_item(item_id, state.uploads_playlist, video_id)

    def _session_status(self, session: Session) -> Response:
        if session.video_id:
            fake = Request("GET", "", {"part": session.part}, {}, None)  # type: ignore[arg-type]
            return Response.json(_parts(fake, self.state.videos[session.video_id]["resource"]))
        headers = {"Content-Length": "0"}
        if session.committed:
            headers["Range"] = f"bytes=0-{session.committed - 1}"
        return Response(308, headers)

    # --- media uploads --------------------------------------------------------------------------------
    def _media(self, req: Request) -> tuple[dict, bytes, str]:
        """(metadata, media bytes, media content type) of a simple or multipart upload."""
        kind = req.query.get("uploadType")
        ctype = req.headers.get("Content-Type") or ""
        raw = req.body()
        if kind == "media":
            return {}, raw, ctype
        if kind == "multipart":
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw)
            parts = list(message.iter_parts())
            if len(parts) != 2:
                raise ApiError(400, "badRequest", "multipart body needs metadata and media parts.", "global")
            meta = json.loads(parts[0].get_payload(decode=True) or b"{}")
            return meta, parts[1].get_payload(decode=True) or b"", parts[1].get_content_type()
        raise ApiError(400, "badRequest", f"uploadType {kind!r} is not supported here.", "global")

    def thumbnails_set(self, req: Request) -> Response:
        video_id = req.query.get("videoId", "")
        _, data, ctype = self._media(req)
        if video_id not in self.state.videos:
            raise ApiError(404, "videoNotFound", "The video that you are trying to update cannot be found.", "youtube.thumbnail")
        if len(data) > THUMBNAIL_MAX:
            raise ApiError(413, "mediaBodyTooLarge", "The thumbnail image file is larger than 50 MB.", "youtube.thumbnail")
        if not (data.startswith(b"\xff\xd8\xff") or data.startswith(b"\x89PNG\r\n\x1a\n")):
            raise ApiError(400, "invalidImage", "The provided image content is invalid.", "youtube.thumbnail")
        path = self.state.root / "media" / f"thumb-{video_id}"
        path.write_bytes(data)
        with self.state.lock:
            self.state.thumbnails[video_id] = {"path": path, "size": len(data), "content_type": ctype}
        url = f"{req.base_url()}/vi/{video_id}/default.jpg"
        return Response.json({"kind": "youtube#thumbnailSetResponse",
                              "items": [{"default": {"url": url, "width": 120, "height": 90}}]})

    def captions_insert(self, req: Request) -> Response:
        meta, data, _ = self._media(req)
        snippet = meta.get("snippet") or {}
        if snippet.get("videoId") not in self.state.videos:
            raise ApiError(404, "videoNotFound", "The video identified by snippet.videoId could not be found.", "youtube.caption")
        if not data.strip():
            raise ApiError(400, "invalidMetadata", "The caption track is empty.", "youtube.caption")
        language = snippet.get("language") or ""
        if not re.match(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$", language):
            raise ApiError(400, "invalidMetadata", "The caption track's snippet.language is not a language tag.", "youtube.caption")
        if any(c["resource"]["snippet"]["videoId"] == snippet["videoId"] and c["resource"]["snippet"]["language"] == language
               and c["resource"]["snippet"]["name"] == snippet.get("name", "") for c in self.state.captions.values()):
            raise ApiError(409, "captionExists", "The video already has a caption track with this language and name.",
                           "youtube.caption")
        caption_id = "AUieDa" + secrets.token_hex(10)
        path = self.state.root / "media" / f"caption-{caption_id}"
        path.write_bytes(data)
        resource = {"kind": "youtube#caption", "id": caption_id,
                    "snippet": {"videoId": snippet["videoId"], "language": snippet.get("language", "en"),
                                "name": snippet.get("name", ""), "trackKind": "standard", "status": "serving",
                                "isDraft": bool(snippet.get("isDraft", False)), "lastUpdated": _now()}}
        with self.state.lock:
            self.state.captions[caption_id] = {"resource": resource, "path": path}
        return Response.json(resource)

    def captions_list(self, req: Request) -> Response:
        items = [c["resource"] for c in self.state.captions.values()
                 if c["resource"]["snippet"]["videoId"] == req.query.get("videoId")]
        return Response.json({"kind": "youtube#captionListResponse", "items": items})

    # --- lists and inserts ----------------------------------------------------------------------------
    def channels_list(self, req: Request) -> Response:
        if req.query.get("mine") != "true" and req.query.get("id") != self.state.channel["id"]:
            return Response.json({"kind": "youtube#channelListResponse", "items": []})
        ch = self.state.channel
        resource = {"kind": "youtube#channel", "id": ch["id"],
                    "snippet": {"title": ch["title"], "description": "", "publishedAt": "2020-01-01T00:00:00Z"},
                    "contentDetails": {"relatedPlaylists": {"uploads": self.state.uploads_playlist, "likes": ""}},
                    "statistics": {"viewCount": str(sum(int(v["resource"]["statistics"]["viewCount"]) for v in self.state.videos.values())),
                                   "subscriberCount": str(ch["subscribers"]), "videoCount": str(len(self.state.videos))}}
        return Response.json({"kind": "youtube#channelListResponse", "items": [_parts(req, resource)],
                              "pageInfo": {"totalResults": 1, "resultsPerPage": 5}})

    def videos_list(self, req: Request) -> Response:
        ids = [i for i in (req.query.get("id") or "").split(",") if i]
        if len(ids) > 50:
            raise ApiError(400, "invalidParameter", "At most 50 ids.", "youtube.parameter")
        items = [_parts(req, self.state.videos[i]["resource"]) for i in ids if i in self.state.videos]
        return Response.json({"kind": "youtube#videoListResponse", "items": items,
                              "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)}})

    def videos_update(self, req: Request) -> Response:
        body = req.json()
        video = self.state.videos.get(body.get("id", ""))
        if not video:
            raise ApiError(404, "videoNotFound", "The video that you are trying to update cannot be found.", "youtube.video")
        validate_video(body, insert="snippet" in body)  # an update of localizations alone has no title
        validate_localizations(body, (body.get("snippet") or {}).get("defaultLanguage")
                               or video["resource"]["snippet"].get("defaultLanguage"))
        with self.state.lock:
            for part in (req.query.get("part") or "").split(","):
                if part in body:
                    video["resource"][part].update(body[part])
        return Response.json(_parts(req, video["resource"]))

    def playlists_list(self, req: Request) -> Response:
        if req.query.get("id"):
            wanted = set(req.query["id"].split(","))
            items = [p for p in self.state.playlists.values() if p["id"] in wanted]
        else:
            items = list(self.state.playlists.values())
        page = _page([_parts(req, p) for p in items], req)
        return Response.json({"kind": "youtube#playlistListResponse", **page})

    def playlists_insert(self, req: Request) -> Response:
        body = req.json()
        title = (body.get("snippet") or {}).get("title")
        if not title or len(title) > 150:
            raise ApiError(400, "playlistTitleRequired" if not title else "invalidPlaylistSnippet",
                           "The playlist title is missing or too long.", "youtube.playlist")
        playlist_id = "PL" + secrets.token_hex(16)
        resource = {"kind": "youtube#playlist", "id": playlist_id,
                    "snippet": {"title": title, "description": body["snippet"].get("description", ""),
                                "channelId": self.state.channel["id"], "publishedAt": _now()},
                    "status": {"privacyStatus": (body.get("status") or {}).get("privacyStatus", "public")}}
        with self.state.lock:
            self.state.playlists[playlist_id] = resource
        return Response.json(_parts(req, resource))

    def _playlist_item(self, item_id: str, playlist_id: str, video_id: str) -> dict:
        position = len(self.state.playlist_video_ids(playlist_id))
        video = self.state.videos[video_id]["resource"]
        return {"kind": "youtube#playlistItem", "id": item_id,
                "snippet": {"playlistId": playlist_id, "position": position, "title": video["snippet"]["title"],
                            "publishedAt": _now(), "channelId": self.state.channel["id"],
                            "resourceId": {"kind": "youtube#video", "videoId": video_id}},
                "contentDetails": {"videoId": video_id, "videoPublishedAt": video["snippet"]["publishedAt"]},
                "status": {"privacyStatus": video["status"]["privacyStatus"]}}

    def playlist_items_list(self, req: Request) -> Response:
        playlist_id = req.query.get("playlistId", "")
        if playlist_id != self.state.uploads_playlist and playlist_id not in self.state.playlists:
            raise ApiError(404, "playlistNotFound", "The playlist identified with the request's playlistId parameter cannot be found.", "youtube.playlistItem")
        items = [i for i in self.state.playlist_items.values() if i["snippet"]["playlistId"] == playlist_id]
        if playlist_id == self.state.uploads_playlist:  # newest first, as YouTube lists uploads
            items = items[::-1]
        if req.query.get("videoId"):
            items = [i for i in items if i["contentDetails"]["videoId"] == req.query["videoId"]]
        page = _page([_parts(req, i) for i in items], req)
        return Response.json({"kind": "youtube#playlistItemListResponse", **page})

    def playlist_items_insert(self, req: Request) -> Response:
        snippet = req.json().get("snippet") or {}
        playlist_id = snippet.get("playlistId", "")
        video_id = (snippet.get("resourceId") or {}).get("videoId", "")
        if playlist_id not in self.state.playlists:
            raise ApiError(404, "playlistNotFound", "Playlist not found.", "youtube.playlistItem")
        if video_id not in self.state.videos:
            raise ApiError(404, "videoNotFound", "Video not found.", "youtube.playlistItem")
        item_id = "PLI" + secrets.token_hex(12)
        with self.state.lock:
            item = self._playlist_item(item_id, playlist_id, video_id)
            self.state.playlist_items[item_id] = item
        return Response.json(_parts(req, item))

    # --- lifecycle ------------------------------------------------------------------------------------
    def start(self, port: int = 0) -> "YouTubeServer":
        self.httpd = loopback.serve(self._answer, port, name="youtube-server")
        return self

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        response = self.dispatch(handler)
        with self.state.lock:
            self.state.calls.append((handler.command, handler.path, 0 if response.drop else response.status))
        if response.drop:
            handler.close_connection = True
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        handler.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() != "content-length":
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(response.body)))
        handler.end_headers()
        handler.wfile.write(response.body)

    @property
    def url(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.state.faults.release.set()
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()

    def __enter__(self) -> "YouTubeServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Loopback YouTube Data API test server.")
    parser.add_argument("--root", required=True, help="folder for uploaded bytes and state")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token-file", help="write an authorized-user token file for this server here")
    parser.add_argument("--quota", type=int, default=10_000_000, help="daily quota units of the server")
    args = parser.parse_args(argv)
    server = YouTubeServer(args.root).start(args.port)
    server.state.quota_limit = args.quota
    if args.token_file:
        server.state.token_file(args.token_file, server.url)
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        shutil.rmtree(Path(args.root) / "sessions", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
