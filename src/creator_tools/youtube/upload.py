"""videos.insert as a crash-safe resumable upload.

The session is opened by hand (the same request the library would send) so its URI can be saved in the
ledger before the first byte goes out; chunks are then sent by the library's `next_chunk`. After a kill, a
re-run asks the server for the committed offset (`PUT` with `Content-Range: bytes */SIZE`) and continues
from there; a session the server already completed answers with the video, so no second video is made.
Library retries stay at 0 (its retry re-sends an already-read stream as an empty body); this loop retries
5xx, 429 and dropped connections itself with exponential backoff and jitter, each retry starting with an
offset query (the library does that after any failed chunk)."""

from __future__ import annotations

import copy
import json
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from .. import log
from ..errors import EngineError
from . import client

CHUNK_UNIT = 256 * 1024  # the API's chunk granularity: every chunk but the last is a multiple of it
MAX_TRIES = 8  # consecutive failures without progress before the record gives up (it stays resumable)


def _size_text(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GiB"


class Progress:
    """Bytes and bytes/s on stderr: a rich bar on a terminal, else a line every few seconds."""

    def __init__(self, name: str, total: int, update: Callable[..., None], every_s: float = 5.0):
        self.name, self.total, self.update, self.every_s = name, total, update, every_s
        self.started = time.monotonic()
        self.first = None  # bytes already committed before this run: not counted in the rate
        self.last_line = self.started

    def __call__(self, done: int) -> None:
        if self.first is None:
            self.first = done
        now = time.monotonic()
        rate = (done - self.first) / max(now - self.started, 1e-6)
        self.update(completed=done, description=f"{self.name} {_size_text(rate)}/s")
        if not log.show_progress() and (now - self.last_line >= self.every_s) and done < self.total:
            self.last_line = now
            log.info(f"{self.name}: {_size_text(done)} of {_size_text(self.total)} "
                     f"({100 * done / max(self.total, 1):.0f}%) at {rate / 1e6:.1f} MB/s")

    def summary(self, done: int) -> str:
        seconds = time.monotonic() - self.started
        sent = done - (self.first or 0)
        return f"sent {_size_text(sent)} in {seconds:.1f} s ({sent / max(seconds, 1e-6) / 1e6:.1f} MB/s)"


def query_offset(http: Any, session_uri: str, size: int) -> tuple[int | None, dict | None]:
    """Ask the server how much of the session it holds: (committed bytes, None), (None, video) when the
    upload already completed, or (None, None) when the session is gone (expired or unknown)."""
    resp, content = http.request(session_uri, "PUT", body=b"", headers={"Content-Range": f"bytes */{size}",
                                                                       "Content-Length": "0"})
    if resp.status in (200, 201):
        return None, json.loads(content.decode("utf-8"))
    if resp.status == 308:
        value = resp.get("range")
        return (int(value.rsplit("-", 1)[1]) + 1 if value else 0), None
    if resp.status in (404, 410):
        return None, None
    from googleapiclient.errors import HttpError

    raise HttpError(resp, content, uri=session_uri)


def open_session(request: Any, size: int) -> str:
    """Send the session-initiating POST the library would send in its first next_chunk; return the URI."""
    from googleapiclient.errors import HttpError, ResumableUploadError

    headers = copy.copy(request.headers)
    headers["X-Upload-Content-Type"] = request.resumable.mimetype()
    headers["X-Upload-Content-Length"] = str(size)
    headers["content-length"] = str(request.body_size)
    resp, content = request.http.request(request.uri, method=request.method, body=request.body, headers=headers)
    if resp.status == 200 and "location" in resp:
        return resp["location"]
    raise (HttpError if resp.status >= 400 else ResumableUploadError)(resp, content, uri=request.uri)


def upload(service: Any, *, path: str, mimetype: str, size: int, part: str, body: dict, chunk_size: int,
           session_uri: str | None, save_session: Callable[[str], None], forget_session: Callable[[], None],
           charge: Callable[[], None], name: str, sleep: Callable[[float], None] = time.sleep,
           token_path: Any = None) -> dict:
    """Upload PATH (a file or a store URI, read chunk by chunk) as a new video (or finish SESSION_URI);
    return the video resource from the server."""
    with media_of(path, mimetype, chunk_size) as media:
        request = service.videos().insert(part=part, body=body, media_body=media, notifySubscribers=True)
        return _send(request, size=size, session_uri=session_uri, save_session=save_session,
                     forget_session=forget_session, charge=charge, name=name, sleep=sleep, token_path=token_path)


@contextmanager
def media_of(path: str, mimetype: str, chunk_size: int) -> Iterator[Any]:
    """A resumable upload body over PATH: a file, or an object read by ranges (no local copy)."""
    from googleapiclient.http import MediaIoBaseUpload

    from .. import artifacts

    with artifacts.open_seekable(path, block=chunk_size) as handle:
        yield MediaIoBaseUpload(handle, mimetype=mimetype, chunksize=chunk_size, resumable=True)


def _send(request: Any, *, size: int, session_uri: str | None, save_session: Callable[[str], None],
          forget_session: Callable[[], None], charge: Callable[[], None], name: str,
          sleep: Callable[[float], None], token_path: Any) -> dict:
    """Open (or resume) the session and send REQUEST's body chunk by chunk, resuming after transient faults."""
    failures = 0
    best = -1  # the furthest committed offset seen: failures only count while it stands still
    with log.progress(name, total=size) as update:
        meter = Progress(name, size, update)
        while True:
            try:
                if request.resumable_uri is None and session_uri:
                    offset, video = query_offset(request.http, session_uri, size)
                    if video is not None:
                        log.info(f"{name}: the server already holds the whole upload; nothing to send")
                        return video
                    if offset is None:
                        log.warn(f"{name}: the upload session expired on the server; starting a new one")
                        forget_session()
                        session_uri = None
                        continue
                    request.resumable_uri = session_uri
                    request.resumable_progress = offset
                    if offset > best:  # progress since the last failure: start counting afresh
                        failures = 0
                    if best < 0 or failures:
                        log.info(f"{name}: resuming at byte {offset} of {size} ({100 * offset / max(size, 1):.0f}%)")
                    best = max(best, offset)
                if request.resumable_uri is None:
                    charge()  # videos.insert is charged when the session is opened
                    session_uri = open_session(request, size)
                    save_session(session_uri)  # before any byte of the file is sent
                    request.resumable_uri = session_uri
                meter(request.resumable_progress)
                status, video = request.next_chunk(num_retries=0)
                failures = 0
                if video is not None:
                    log.info(f"{name}: uploaded, {meter.summary(size)}")
                    return video
                meter(status.resumable_progress)
            except Exception as exc:
                if not client.is_transient(exc):
                    raise client.translate(exc, "videos.insert", token_path) from None
                failures += 1
                if failures >= MAX_TRIES:
                    raise EngineError(f"upload failed {failures} times in a row ({type(exc).__name__}: "
                                      f"{exc}); re-run later, it resumes at the committed offset",
                                      retryable=True) from None
                pause = client.backoff(failures)
                log.warn(f"{name}: {_describe(exc)}; retrying in {pause:.1f} s from the committed offset")
                sleep(pause)
                if session_uri and request.resumable_uri is None:
                    continue
                request.resumable_uri = None  # re-query the offset from the saved session before sending on


def _describe(exc: BaseException) -> str:
    from googleapiclient.errors import HttpError

    if isinstance(exc, HttpError):
        status, reason, message = client.error_details(exc)
        return f"server answered {status} {reason or message}"
    return f"connection failed ({type(exc).__name__}: {exc})" if str(exc) else f"connection failed ({type(exc).__name__})"
