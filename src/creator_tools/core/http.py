"""The one HTTP fetcher under every remote (stock APIs, image generation, the OpenAI-compatible clients'
downloads): stdlib urllib only, and nothing of creator_tools above `core`.

What every request gets, so no caller can forget it:
- **schemes**: only `https`, and `http` only where the configured base URL is `http` (a loopback or LAN
  server); `file:`, `ftp:`, `data:` and the rest are refused before anything is opened, and a redirect to a
  scheme outside the allowed set is refused too (an API answer's `"url": "file:///home/me/private.jpg"` is
  never read). The opener is built by hand, without urllib's file, ftp and data handlers.
- **size caps**: a declared Content-Length over the cap is refused before the body is read, and a body that
  goes past it (no or a lying Content-Length) stops at the cap. Clips CS_MAX_CLIP_MB (500), stills
  CS_MAX_STILL_MB (50), JSON answers CS_MAX_JSON_MB (10).
- **time**: each read waits at most TIMEOUT, the whole request at most CS_HTTP_DEADLINE seconds (600), and a
  body that arrives slower than CS_HTTP_MIN_RATE KB/s (10) on average, once it has had RATE_GRACE_S to get
  going, is given up (a byte every 10 s passes every per-read timeout but not this).
- **part files**: `open_part` opens with O_NOFOLLOW and refuses anything but a regular file, so a symlink
  planted at a download's `.part` name is never followed, appended to or truncated.
- **retries**: `retry_after` reads Retry-After (seconds or an HTTP date), `backoff` is the one schedule.
Errors are `FetchError` subclasses carrying a one-line `message`; callers turn them into their own errors.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Any, BinaryIO, Iterable

from . import config

MB = 1 << 20
BLOCK = 1 << 16
RATE_GRACE_S = 10.0  # a body may start slowly (TCP slow start, a cold CDN); the minimum rate applies after
USER_AGENT = "creator-tools (+https://github.com/creator-tools)"
# name: (default, meaning); the caps are in MB, the rate in KB/s
SETTINGS = {
    "CS_MAX_CLIP_MB": (500.0, "largest video clip a download (or a TTS server's audio answer) may be, in MB"),
    "CS_MAX_STILL_MB": (50.0, "largest still image a download may be, in MB"),
    "CS_MAX_JSON_MB": (10.0, "largest API answer (JSON) read, in MB"),
    "CS_HTTP_DEADLINE": (600.0, "seconds one HTTP request may take in all (connect, answer, body)"),
    "CS_HTTP_MIN_RATE": (10.0, "slowest average body rate accepted, in KB/s (after the first 10 s)"),
}
CAP_SETTING = {"clip": "CS_MAX_CLIP_MB", "still": "CS_MAX_STILL_MB", "json": "CS_MAX_JSON_MB"}


class FetchError(Exception):
    """A request that did not give a usable answer. `retryable`: trying again (later) may work."""

    retryable = False

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Refused(FetchError):
    """Not fetched on purpose: a scheme outside the allowed set, a redirect to one, a part that is no file."""


class TooLarge(FetchError):
    """The answer is (or says it is) over its size cap."""


class TooSlow(FetchError):
    """Past the request's deadline, or slower than the minimum rate."""

    retryable = True


class Unreachable(FetchError):
    """Refused, reset, timed out or cut short at the network level: it may come back."""

    retryable = True


class BadSetting(ValueError):
    """An environment variable of SETTINGS that is not a number (callers report it as configuration)."""

    def __init__(self, name: str, value: str):
        super().__init__(f"{name}={value!r} is not a number; set it to one or unset it")
        self.message = str(self)
        self.name = name


def setting(name: str) -> float:
    """$NAME as a number, its SETTINGS default when unset or empty; BadSetting when it is no number."""
    value = (config.get(name) or "").strip()
    if not value:
        return SETTINGS[name][0]
    try:
        number = float(value)
    except ValueError:
        raise BadSetting(name, value) from None
    if number <= 0 or number != number:
        raise BadSetting(name, value)
    return number


@dataclass(frozen=True)
class Limits:
    """The caps and clocks of one request. `cap` in bytes; `timeout` per read; `deadline` for the whole
    request; `min_rate` in bytes/s."""

    cap: int
    cap_setting: str
    timeout: float = 30.0
    deadline: float = 600.0
    min_rate: float = 10 * 1024

    @classmethod
    def of(cls, kind: str, timeout: float = 30.0) -> "Limits":
        """The limits for KIND (`clip`, `still` or `json`) from the environment."""
        name = CAP_SETTING[kind]
        return cls(cap=int(setting(name) * MB), cap_setting=name, timeout=timeout,
                   deadline=setting("CS_HTTP_DEADLINE"), min_rate=setting("CS_HTTP_MIN_RATE") * 1024)


def check_settings() -> None:
    """Every setting read once (BadSetting on the first that is no number): callers check at start-up."""
    for name in SETTINGS:
        setting(name)


# --- schemes --------------------------------------------------------------------------------------------


def allowed_schemes(base_url: str) -> frozenset[str]:
    """`https`, plus `http` when the configured BASE_URL is itself http (a local server)."""
    return frozenset({"https", "http"}) if urllib.parse.urlsplit(base_url).scheme == "http" else frozenset({"https"})


def check_url(url: Any, allowed: Iterable[str]) -> str:
    """URL when it is a string whose scheme is in ALLOWED and that names a host; else Refused."""
    if not isinstance(url, str):
        raise Refused(f"the link is {type(url).__name__}, not a URL")
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme.lower() not in allowed or not parts.netloc:
        link = shown(url)
        link = link if len(link) <= 100 else link[:97] + "..."
        raise Refused(f"refused to fetch {link!r}: only {_schemes(allowed)} links with a host are followed")
    return url.strip()


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to an allowed scheme (https -> file:, or https -> http, is refused)."""

    def __init__(self, allowed: frozenset[str]):
        self.allowed = allowed

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        try:
            check_url(urllib.parse.urljoin(req.full_url, newurl), self.allowed)
        except Refused as exc:
            fp.close()
            raise Refused(f"refused the redirect of {shown(req.full_url)}: {exc.message}") from None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _schemes(allowed: Iterable[str]) -> str:
    return " or ".join(f"{scheme}://" for scheme in sorted(allowed, reverse=True))


def _opener(allowed: frozenset[str]) -> urllib.request.OpenerDirector:
    """urllib's opener without its file, ftp and data handlers (build_opener would add them back)."""
    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.ProxyHandler(), urllib.request.HTTPHandler(), urllib.request.HTTPSHandler(),
                    _Redirects(allowed), urllib.request.HTTPDefaultErrorHandler(),
                    urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener


# --- requests -------------------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: Any
    body: bytes
    url: str = ""

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not."""
        return json.loads(self.body)

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def sent(body: bytes, length: int = 80) -> str:
    """What a server sent, for messages: "an HTML page" (a proxy's or captive portal's answer), else its
    first characters on one line, quoted."""
    head = body[:512].lstrip().lower()
    if head.startswith(b"<!doctype html") or b"<html" in head:
        return "an HTML page"
    text = " ".join(body.decode("utf-8", "replace").split())
    return repr(text if len(text) <= length else text[:length - 3] + "...")


class _Clock:
    """One request's deadline and rate bookkeeping. `url` is the one messages show (no query: a key rides there)."""

    def __init__(self, url: str, limits: Limits):
        self.url, self.limits = shown(url), limits
        self.started = time.monotonic()
        self.body_started: float | None = None
        self.received = 0

    def left(self) -> float:
        left = self.limits.deadline - (time.monotonic() - self.started)
        if left <= 0:
            raise TooSlow(f"{self.url} took longer than {self.limits.deadline:g} s (CS_HTTP_DEADLINE)")
        return left

    def wait(self) -> float:
        """How long the next read may block: the per-read timeout, never past the deadline."""
        return max(0.05, min(self.limits.timeout, self.left()))

    def got(self, count: int) -> None:
        now = time.monotonic()
        if self.body_started is None:
            self.body_started = now
        self.received += count
        elapsed = now - self.body_started
        if elapsed > RATE_GRACE_S and self.received / elapsed < self.limits.min_rate:
            raise TooSlow(f"{self.url} arrived at {self.received / elapsed / 1024:.2f} KB/s, under the "
                          f"{self.limits.min_rate / 1024:g} KB/s minimum (CS_HTTP_MIN_RATE)")
        self.left()


def _socket_of(answer: Any) -> socket.socket | None:
    """The socket under an http.client response, to narrow its timeout to what the deadline leaves."""
    raw = getattr(getattr(answer, "fp", None), "raw", None)
    sock = getattr(raw, "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


def _open(method: str, url: str, headers: dict, data: bytes | None, allowed: frozenset[str], clock: _Clock):
    """The open answer (any status: an HTTPError is an answer too); Unreachable, Refused or TooSlow."""
    request = urllib.request.Request(check_url(url, allowed), data=data, method=method,
                                     headers={"User-Agent": USER_AGENT, **headers})
    try:
        return _opener(allowed).open(request, timeout=clock.wait())
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:  # a redirect urllib itself would not follow (to file:, to no URL at all)
            location = exc.headers.get("Location") if exc.headers else None
            exc.close()
            raise Refused(f"refused the redirect of {clock.url} to {location!r}: only {_schemes(allowed)} links "
                          "with a host are followed") from None
        return exc
    except (TimeoutError, socket.timeout):
        clock.left()  # past the deadline: say that rather than "timed out"
        raise Unreachable(f"{clock.url} did not answer within {clock.limits.timeout:g} s") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (TimeoutError, socket.timeout)):
            clock.left()
            raise Unreachable(f"{clock.url} did not answer within {clock.limits.timeout:g} s") from None
        raise Unreachable(f"cannot reach {_host(url)} ({reason(exc)})") from None
    except (OSError, HTTPException) as exc:
        raise Unreachable(f"cannot reach {_host(url)} ({reason(exc)})") from None


def _declared(answer: Any) -> int | None:
    value = answer.headers.get("Content-Length") if answer.headers else None
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def too_large(url: str, size: int, limits: Limits, declared: bool, then: str = "skipped") -> TooLarge:
    """The one line for an answer over its cap (declared, or found while reading); THEN: what happens now."""
    said = "says it is" if declared else "went past"
    return TooLarge(f"{url} {said} {size / MB:.1f} MB, over the {limits.cap / MB:g} MB cap "
                    f"({limits.cap_setting}); {then}")


def _pump(answer: Any, write, clock: _Clock, have: int = 0) -> int:
    """Copy ANSWER's body to WRITE block by block, inside the cap and the clocks; the bytes copied."""
    limits = clock.limits
    sock = _socket_of(answer)
    copied = 0
    while True:
        if sock is not None:
            sock.settimeout(clock.wait())
        try:
            block = answer.read1(BLOCK)
        except (TimeoutError, socket.timeout):
            clock.left()
            raise Unreachable(f"{clock.url} stalled for {limits.timeout:g} s") from None
        except (OSError, HTTPException) as exc:
            raise Unreachable(f"the answer of {clock.url} was cut short ({reason(exc)})") from None
        if not block:
            return copied
        if have + copied + len(block) > limits.cap:
            raise too_large(clock.url, have + copied + len(block), limits, declared=False)
        write(block)
        copied += len(block)
        clock.got(len(block))


def request(method: str, url: str, *, allowed: frozenset[str], limits: Limits, headers: dict | None = None,
            data: bytes | None = None) -> Response:
    """Send one request and read the whole answer (any status), capped and clocked."""
    clock = _Clock(url, limits)
    answer = _open(method, url, headers or {}, data, allowed, clock)
    with answer:
        declared = _declared(answer)
        if declared is not None and declared > limits.cap:
            raise too_large(clock.url, declared, limits, declared=True)
        chunks: list[bytes] = []
        _pump(answer, chunks.append, clock)
        return Response(answer.status if hasattr(answer, "status") else answer.code, answer.headers,
                        b"".join(chunks), url)


class Status(FetchError):
    """A download answered with an HTTP error status (kept for the caller to judge: 5xx and 429 may pass)."""

    def __init__(self, url: str, status: int, headers: Any):
        super().__init__(f"{url} answered HTTP {status}")
        self.status, self.headers = status, headers
        self.retryable = status >= 500 or status == 429


def download(url: str, handle: BinaryIO, *, allowed: frozenset[str], limits: Limits,
             headers: dict | None = None) -> bool:
    """Append to HANDLE (a part file) what URL holds after the bytes already there (a Range request);
    True when the file is complete. A server that ignores Range starts the file again. Status for an
    error status (416 on a part that is already whole counts as complete)."""
    have = handle.seek(0, os.SEEK_END)
    if have > limits.cap:
        handle.truncate(0)
        have = handle.seek(0)
    clock = _Clock(url, limits)
    answer = _open("GET", url, {**(headers or {}), **({"Range": f"bytes={have}-"} if have else {})},
                   None, allowed, clock)
    with answer:
        status = answer.status if hasattr(answer, "status") else answer.code
        if status >= 400:
            if status == 416 and have:  # asked past the end: the part already holds the whole file
                return True
            raise Status(clock.url, status, answer.headers)
        if status != 206 and have:  # the server ignored Range: start again
            handle.truncate(0)
            have = handle.seek(0)
        declared = _declared(answer)
        if declared is not None and have + declared > limits.cap:
            raise too_large(clock.url, have + declared, limits, declared=True)
        received = _pump(answer, handle.write, clock, have)
        handle.flush()
    return declared is None or received >= declared


# --- files ----------------------------------------------------------------------------------------------


def open_part(path: Path) -> BinaryIO:
    """PATH opened for reading and writing (created when missing, kept when there: downloads resume), never
    through a symlink and only when it is a regular file: Refused otherwise. Positioned at its end."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) \
        | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        if os.path.islink(path):
            raise Refused(f"{path} is a symlink, not a part file; remove it (downloads never write "
                          "through links)") from None
        raise Refused(f"cannot open {path} ({exc.strerror}); remove it or free the folder") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise Refused(f"{path} is not a regular file; remove it (downloads write only plain files)")
    os.set_blocking(fd, True)
    handle = os.fdopen(fd, "r+b")
    handle.seek(0, os.SEEK_END)
    return handle


def regular_file(path: Path) -> bool:
    """PATH is a regular file itself, not a symlink to one (a finished download is reused only then)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


# --- retries --------------------------------------------------------------------------------------------


def retry_after(value: str | None, default: float) -> float:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return default
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return default


def backoff(attempt: int, cap: float = 30.0) -> float:
    """Seconds before try ATTEMPT+2: 0.5, 1, 2, 4 ... capped at CAP."""
    return min(0.5 * 2 ** attempt, cap)


def reason(exc: BaseException) -> str:
    """An exception as a short reason for messages ("Connection refused", "timed out")."""
    found = getattr(exc, "reason", None) or exc
    if isinstance(found, OSError) and found.strerror:
        return found.strerror
    return str(found) or type(found).__name__


def shown(url: str) -> str:
    """URL as messages show it: without its query, fragment or user info (keys and signatures ride there)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", "")) if host else url.split("?", 1)[0]


def _host(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else url
