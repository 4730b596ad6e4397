"""The HTTP layer of the network visual providers (Pexels, Pixabay, image generation), stdlib only.

- Search answers are cached on disk for 24 h (Pixabay's terms ask for it; Pexels' hourly limit needs it):
  $CS_OUT_DIR/cache/visuals/SHA.json, SHA of the service, URL and parameters, never of the key.
- Every request and download goes through core/http: https only (http only when the service's base URL is
  http), no redirect to another scheme, size caps (CS_MAX_CLIP_MB, CS_MAX_STILL_MB, CS_MAX_JSON_MB), a
  deadline and a minimum rate. A download refused for any of these is given up at once (its part deleted)
  so the shot takes the next candidate, the next provider or a card.
- An answer of the wrong shape (a list, `"videos": "nope"`, an HTML page) is an EngineError naming the
  service and what it sent, never cached.
- Downloads are kept by URL hash ($CS_OUT_DIR/visuals/SERVICE/SHA.EXT), written to a `.part` file (opened
  with O_NOFOLLOW, regular files only) that a dropped connection resumes with a Range request, verified (a
  clip must probe as video, a still must open in Pillow; a corrupt file is deleted and fetched again; a
  still over Pillow's pixel limit is refused) and renamed into place. So a re-run makes no API
  calls and no downloads.
- HTTP 429 honours Retry-After (seconds or an HTTP date, capped at CS_VISUALS_MAX_WAIT, 30 s), says so on
  stderr, and after CS_VISUALS_TRIES tries (4) raises RateLimited; the service then stays limited for this
  run (a minute at least), so later shots go straight to the next provider. 5xx and dropped connections
  are retried with backoff, then EngineError. 401/403 is a ConfigError naming the key variable.
- A key variable may hold several keys separated by commas: requests take them round-robin, and a key
  that got 429 rests while the others carry on.
Everything here is safe to call from several threads (cs-visuals -j N).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

from .. import artifacts, log
from ..core import config, http
from ..core.http import retry_after  # noqa: F401  (re-exported: callers and tests import it from here)
from ..errors import ConfigError, EngineError
from .visuals import RateLimited

CACHE_TTL_S = 24 * 3600
LIMITED_FOR_S = 60.0  # how long a service that used up its tries (429, 5xx, unreachable) is left alone
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock(name: str) -> threading.Lock:
    """One lock per cache entry or download: two threads asking for the same thing make one request."""
    with _locks_guard:
        return _locks.setdefault(name, threading.Lock())


def _setting(name: str, default: float) -> float:
    value = config.get(name) or ""
    try:
        return float(value) if value else default
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a number; set it to one or unset it") from None


def sha(*parts: Any) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class KeyRing:
    """The keys of one variable (comma-separated), handed out round-robin; a key that got 429 rests until
    its Retry-After time while the others carry on."""

    def __init__(self, variable: str, value: str | None):
        self.variable = variable
        self.keys = [key.strip() for key in (value or "").split(",") if key.strip()]
        self.resting: dict[str, float] = {}
        self.turn = 0
        self.lock = threading.Lock()

    def take(self) -> tuple[str, float]:
        """The next key that is not resting and 0, or (when all rest) the one free soonest and its wait."""
        with self.lock:
            now = time.monotonic()
            for _ in range(len(self.keys)):
                key = self.keys[self.turn % len(self.keys)]
                self.turn += 1
                if self.resting.get(key, 0) <= now:
                    return key, 0.0
            key = min(self.keys, key=lambda k: self.resting[k])
            return key, self.resting[key] - now

    def rest(self, key: str, seconds: float) -> None:
        with self.lock:
            self.resting[key] = time.monotonic() + seconds

    def position(self, key: str) -> str:
        """How a message names one of several keys without printing it ("" for a single key)."""
        if len(self.keys) < 2 or key not in self.keys:
            return ""
        return f"key {self.keys.index(key) + 1} of {len(self.keys)}"


class Response(http.Response):
    """An answer of one service: `json()` says which service sent something that is not JSON."""

    label = "the API"

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise EngineError(f"{self.label} answered HTTP {self.status} with {http.sent(self.body)}, "
                              "not JSON") from None


def describe(value: Any) -> str:
    """A JSON value as a message shows it: its type and its start."""
    kind = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)
    text = json.dumps(value, default=str)
    return f"{kind} ({text if len(text) <= 60 else text[:57] + '...'})"


class Service:
    """One remote API: its base URL, its keys and how a request carries one (`auth(key)` -> headers, params).
    `label` is how people know it ("Pexels"); `name` is the provider name used in paths and logs."""

    def __init__(self, name: str, label: str, base_url: str, keys: KeyRing | None,
                 auth: Callable[[str], tuple[dict, dict]] | None = None, *, timeout: float = 30.0,
                 rejected: Callable[[Response], bool] | None = None):
        self.name, self.label, self.base_url = name, label, base_url.rstrip("/")
        self.keys, self.auth, self.timeout = keys, auth, timeout
        self.rejected = rejected or (lambda response: response.status in (401, 403))
        self.tries = max(1, int(_setting("CS_VISUALS_TRIES", 4)))
        self.max_wait = _setting("CS_VISUALS_MAX_WAIT", 30.0)
        self.allowed = http.allowed_schemes(self.base_url)  # links of answers: https, http only for an http base
        try:
            self.limits = {kind: http.Limits.of(kind, timeout) for kind in ("json", "clip", "still")}
        except http.BadSetting as exc:
            raise ConfigError(exc.message) from None
        self.limited_until = 0.0  # monotonic time before which this run treats the service as rate-limited
        self.failing_until = 0.0  # ... as down (5xx or unreachable after every try)
        self.calls = 0  # requests sent (search and generation), for logs and tests

    # --- requests ---------------------------------------------------------------------------------------
    def get_json(self, path: str, params: dict[str, Any], parse: Callable[[dict], Any] = lambda answer: answer) -> Any:
        """PARSE(the JSON object GET BASE/PATH?PARAMS answers), from the 24-hour cache when it can be. An
        answer that is no object, or that PARSE cannot read (a list where it wants objects...), is an
        EngineError naming the service and what it sent, and is not cached."""
        url = f"{self.base_url}{path}"
        key = sha(self.name, url, params)
        cached = artifacts.out_dir() / "cache" / "visuals" / f"{key}.json"
        with _lock(str(cached)):
            answer = _read_cache(cached)
            if isinstance(answer, dict):
                try:
                    return parse(answer)
                except (AttributeError, TypeError, KeyError, ValueError, IndexError):
                    pass  # a cache written by an older version: ask again
            answer = self.json_object(self.request("GET", url, params))
            result = self.parsed(answer, parse)
            artifacts.atomic_write_text(cached, json.dumps({"url": url, "params": params, "answer": answer}))
            return result

    def json_object(self, response: Response) -> dict:
        """RESPONSE's JSON object; EngineError naming the service and what it sent when it is anything else."""
        answer = response.json()
        if not isinstance(answer, dict):
            raise EngineError(f"{self.label} sent {describe(answer)} where a JSON object belongs; "
                              "check the service's base URL", retryable=True)
        return answer

    def parsed(self, answer: dict, parse: Callable[[dict], Any]) -> Any:
        """PARSE(ANSWER), its shape errors (`"videos": "nope"`, a file without a link) as one EngineError."""
        try:
            return parse(answer)
        except (AttributeError, TypeError, KeyError, ValueError, IndexError):
            raise EngineError(f"{self.label} sent an answer of an unexpected shape: {describe(answer)}; "
                              "check the service's base URL", retryable=True) from None

    def post_json(self, path: str, body: dict) -> Response:
        """POST BASE/PATH with a JSON body; the Response whatever its status (the caller reads 400s)."""
        return self.request("POST", f"{self.base_url}{path}", {}, body, accept=(400,))

    def request(self, method: str, url: str, params: dict, body: dict | None = None, *,
                accept: tuple[int, ...] = ()) -> Response:
        """Send with retries: 429 waits (Retry-After) and rotates keys, 5xx and dropped connections back off.
        Statuses in ACCEPT come back to the caller; other 4xx raise."""
        if time.monotonic() < self.limited_until:
            raise RateLimited(f"{self.label} is rate-limited for this run; later shots use the next provider")
        if time.monotonic() < self.failing_until:
            raise EngineError(f"{self.label} failed a moment ago; skipped for this shot", retryable=True)
        failure = ""
        for attempt in range(self.tries):
            key = self._key()
            try:
                response = self._send(method, url, params, body, key)
            except (http.Unreachable, http.TooSlow) as exc:  # refused, reset, cut short, timed out: it may come back
                failure = f"cannot reach {self.label} at {self.base_url} ({exc.message})"
                self._backoff(attempt, failure)
                continue
            except http.FetchError as exc:  # too large, refused scheme: asking again gives the same
                raise EngineError(f"{self.label}: {exc.message}", retryable=True) from None
            if response.status == 429:
                self._limited(response, key, last=attempt + 1 == self.tries, attempt=attempt)
                continue
            if self.rejected(response):
                raise self._rejected(response, key)
            if response.status >= 500:
                failure = f"{self.label} failed with HTTP {response.status}"
                self._backoff(attempt, failure)
                continue
            if response.status >= 400 and response.status not in accept:
                raise EngineError(f"{self.label} refused the request (HTTP {response.status}: "
                                  f"{response.text()[:160]})")
            return response
        # Down or unreachable after every try: the next shots skip it for a minute rather than wait again.
        self.failing_until = time.monotonic() + LIMITED_FOR_S
        raise EngineError(f"{failure} after {self.tries} tries; this provider is skipped for the shot",
                          retryable=True)

    def _key(self) -> str:
        """The key for the next request ("" without keys), waiting when every key rests after a 429."""
        if not (self.keys and self.keys.keys):
            return ""
        key, wait = self.keys.take()
        if wait > 0:
            self._wait(min(wait, self.max_wait), "has every key resting after HTTP 429")
        return key

    def _limited(self, response: Response, key: str, *, last: bool, attempt: int) -> None:
        """After a 429: rest the key and wait Retry-After (or switch keys), or on the LAST try raise
        RateLimited and leave the service alone for a while (LIMITED_FOR_S, or longer when Retry-After says)."""
        seconds = min(retry_after(response.headers.get("Retry-After"), 2.0 ** attempt), self.max_wait)
        if key:
            self.keys.rest(key, seconds)
        if last:
            # Tries used up: the limit is likely hourly (Pexels) or per minute (Pixabay), so later shots of this
            # run go straight to the next provider for at least a minute instead of asking again.
            self.limited_until = time.monotonic() + max(seconds, LIMITED_FOR_S)
            raise RateLimited(f"{self.label} is rate-limited (HTTP 429 after {self.tries} tries); "
                              "run again later or add another key")
        if key and len(self.keys.keys) > 1:
            log.warn(f"{self.label} answered HTTP 429 for {self.keys.position(key)} in {self.keys.variable}; "
                     "trying another key")
        else:
            self._wait(seconds, "answered HTTP 429")

    def _rejected(self, response: Response, key: str) -> ConfigError:
        variable = self.keys.variable if self.keys else "the API key"
        if not key:
            return ConfigError(f"{self.label} refused a request without a key (HTTP {response.status}); set {variable}")
        which = self.keys.position(key) if self.keys else ""
        return ConfigError(f"{variable} was rejected by {self.label} (HTTP {response.status}"
                           f"{', ' + which if which else ''}); check the key")

    def _send(self, method: str, url: str, params: dict, body: dict | None, key: str) -> Response:
        import urllib.parse

        headers, extra = self.auth(key) if self.auth and key else ({}, {})
        query = urllib.parse.urlencode({**params, **extra})
        data = json.dumps(body).encode() if body is not None else None
        self.calls += 1
        answer = http.request(method, f"{url}?{query}" if query else url, allowed=self.allowed,
                              limits=self.limits["json"], data=data,
                              headers={"Accept": "application/json",
                                       **({"Content-Type": "application/json"} if data else {}), **headers})
        response = Response(answer.status, answer.headers, answer.body, answer.url)
        response.label = self.label
        return response

    def _wait(self, seconds: float, why: str) -> None:
        log.warn(f"{self.label} {why}; waiting {seconds:.0f} s (Retry-After, capped at {self.max_wait:.0f} s)")
        time.sleep(seconds)

    def _backoff(self, attempt: int, failure: str) -> None:
        if attempt + 1 < self.tries:
            seconds = http.backoff(attempt, self.max_wait)
            log.warn(f"{failure}; retrying in {seconds:.1f} s")
            time.sleep(seconds)

    # --- downloads --------------------------------------------------------------------------------------
    def download(self, url: str, kind: str, suffix: str) -> Path:
        """The file at URL under $CS_OUT_DIR/visuals/NAME/, fetched once, resumed when dropped, verified.
        KIND `clip` must probe as video, `still` must open as an image; EngineError when it never does, when
        URL is no allowed link, or when the file is over its cap or arrives too slowly."""
        try:
            http.check_url(url, self.allowed)
        except http.Refused as exc:
            raise EngineError(f"{self.label}: {exc.message}; skipping this asset", retryable=True) from None
        final = artifacts.out_dir() / "visuals" / self.name / f"{sha(url)[:24]}{suffix}"
        with _lock(str(final)):
            if http.regular_file(final):
                return final
            final.parent.mkdir(parents=True, exist_ok=True)
            part = final.with_name(f".{final.name}.part")
            try:
                handle = http.open_part(part)
            except http.Refused as exc:  # a link or a folder planted at the part's name: never written through
                raise EngineError(f"{self.label}: {exc.message}", retryable=True) from None
            with handle:
                import fcntl

                fcntl.flock(handle, fcntl.LOCK_EX)  # another process fetching the same file waits, then reuses it
                if http.regular_file(final):
                    if handle.seek(0, os.SEEK_END) == 0:
                        part.unlink(missing_ok=True)  # made by our open() after the other process renamed its part
                    return final
                try:
                    duration = self._fetch(url, kind, part, handle)
                except EngineError:  # given up: nothing worth resuming (Ctrl-C keeps the part for the next run)
                    part.unlink(missing_ok=True)
                    raise
                if duration:  # kept beside the clip so a re-run need not probe it again
                    artifacts.atomic_write_text(_sidecar(final), json.dumps({"duration_s": duration}))
                os.replace(part, final)
            return final

    def _fetch(self, url: str, kind: str, part: Path, handle) -> float | None:
        """Fill PART until it verifies as KIND; a clip's duration (None for stills). Dropped connections and
        5xx are resumed after a backoff; a cap, a refused redirect, a trickle or a 4xx give up at once."""
        corrupt = 0
        failure = ""
        for attempt in range(self.tries + 1):
            try:
                if self._receive(url, kind, handle):
                    problem, duration = verify(part, kind)
                    if not problem:
                        return duration
                    corrupt += 1
                    failure = f"{url} is not a readable {kind} ({problem})"
                    handle.truncate(0)  # deleted and fetched again from the start
                    handle.seek(0)
                    if corrupt >= 2:
                        break
                    log.warn(f"{self.label}: {failure}; fetching it again")
                    continue
                failure = f"the download of {url} dropped"
            except http.Status as exc:
                if not exc.retryable:
                    raise EngineError(f"{self.label}: {url} answered HTTP {exc.status}; skipping this asset",
                                      retryable=True) from None
                failure = f"the download of {url} failed (HTTP {exc.status})"
            except http.Unreachable as exc:
                failure = f"the download of {url} failed ({exc.message})"
            except http.FetchError as exc:  # over the cap, too slow, redirected elsewhere: the next candidate
                raise EngineError(f"{self.label}: {exc.message}; skipping this asset", retryable=True) from None
            except OSError as exc:  # our side: the disk is full, the folder went away
                raise EngineError(f"{self.label}: cannot write {part} ({http.reason(exc)}); free space in "
                                  f"{part.parent} and run again", retryable=True) from None
            self._backoff(attempt, failure + "; resuming")
        handle.truncate(0)
        raise EngineError(f"{self.label}: {failure}; skipping this asset", retryable=True)

    def _receive(self, url: str, kind: str, handle) -> bool:
        """Append what the server sends after the bytes already in HANDLE; True when the file is complete."""
        return http.download(url, handle, allowed=self.allowed, limits=self.limits[kind])


def verify(path: Path, kind: str) -> tuple[str, float | None]:
    """Why PATH is not a usable KIND (clip: a video stream ffprobe reads; still: an image Pillow decodes),
    or "" when it is; and a clip's duration."""
    if kind == "clip":
        from ..errors import BadInput
        from ..media import ffmpeg

        try:
            info = ffmpeg.probe(path)
        except BadInput as exc:
            return exc.message, None
        if ffmpeg.stream(info, "video") is None:
            return "no video stream", None
        return "", round(float(info.get("format", {}).get("duration") or 0), 3) or None
    from PIL import Image

    from ..media.stills import bomb_message, refuse_bombs

    refuse_bombs()
    try:
        with Image.open(path) as image:
            image.load()
    except Exception as exc:  # Pillow raises many types for broken files; any of them means "corrupt"
        if bomb_message(exc):  # not corrupt, just too big: fetching it again would not help
            raise http.TooLarge(bomb_message(exc)) from None
        return f"{type(exc).__name__}: {exc}", None
    return "", None


def _sidecar(path: Path) -> Path:
    return path.with_name(f"{path.name}.json")


def clip_duration(path: Path) -> float | None:
    """A downloaded clip's length: from the note written when it was verified, else ffprobe."""
    from ..media import ffmpeg

    try:
        return json.loads(_sidecar(path).read_text())["duration_s"]
    except (OSError, ValueError, KeyError):
        pass
    try:
        return round(ffmpeg.duration(path), 3) or None
    except Exception:
        return None


def _read_cache(path: Path) -> Any:
    try:
        if time.time() - path.stat().st_mtime > CACHE_TTL_S:
            return None
        return json.loads(path.read_text(encoding="utf-8"))["answer"]
    except (OSError, ValueError, KeyError):
        return None


def suffix_of(url: str, default: str) -> str:
    import urllib.parse

    if not isinstance(url, str):
        return default
    suffix = Path(urllib.parse.urlsplit(url).path).suffix.lower()
    return suffix if suffix in (".mp4", ".mov", ".webm", ".jpg", ".jpeg", ".png", ".webp") else default
