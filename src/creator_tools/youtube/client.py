"""Building a Google API client that can talk to any endpoint, and calling it with retries, quota
accounting and errors mapped to the toolkit's exception tree.

`client_options={"api_endpoint": ...}` moves JSON calls but not media uploads (they keep https and the
googleapis host), so the service is built from the discovery document shipped with the library with
`rootUrl`/`baseUrl` rewritten; that moves every call, uploads included.

The transport is httplib2 with one change: a connection refuses to send the same file-like body twice.
httplib2 silently re-sends a request once when the connection drops, and an upload chunk is a stream that
was already read, so the re-send would carry an empty body with the old Content-Length and hang. Refusing
turns that into an ordinary dropped connection, which the upload loop recovers from by asking the server
for the committed offset.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any, Callable

from ..errors import BadInput, ConfigError, EngineError, QuotaDeferred
from ..core import config

ENDPOINT_ENV = config.variable("CS_YOUTUBE_ENDPOINT")
TIMEOUT_S = 120
DEFERRING_REASONS = {"quotaExceeded", "uploadLimitExceeded", "rateLimitExceeded", "userRateLimitExceeded",
                     "dailyLimitExceeded", "uploadRateLimitExceeded"}
RETRY_STATUSES = {500, 502, 503, 504, 429}


class DroppedConnection(ConnectionError):
    """The connection broke while a streamed body was in flight."""


def _connection_classes() -> dict[str, type]:
    import httplib2

    def refusing(base: type) -> type:
        class Connection(base):  # type: ignore[misc, valid-type]
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.blocksize = 1 << 20  # send streamed bodies 1 MiB per syscall, not 8 KiB
                self._last_stream = None

            def request(self, method, url, body=None, headers=None, **kwargs):
                if body is not None and hasattr(body, "read"):
                    if body is self._last_stream:
                        self.close()
                        raise DroppedConnection("connection dropped while sending a chunk")
                    self._last_stream = body
                try:
                    super().request(method, url, body, headers or {}, **kwargs)
                except BaseException:
                    self.close()  # never reuse a socket that failed mid-request
                    raise

        Connection.__name__ = "NoResend" + base.__name__
        return Connection

    return {"http": refusing(httplib2.HTTPConnectionWithTimeout),
            "https": refusing(httplib2.HTTPSConnectionWithTimeout)}


def make_http(timeout: int = TIMEOUT_S) -> Any:
    """An httplib2.Http whose connections never re-send a streamed body (see the module docstring)."""
    import httplib2

    classes = _connection_classes()

    class Http(httplib2.Http):
        def request(self, uri, method="GET", body=None, headers=None, redirections=httplib2.DEFAULT_MAX_REDIRECTS,
                    connection_type=None):
            if connection_type is None:
                connection_type = classes["https" if uri.lower().startswith("https:") else "http"]
            return super().request(uri, method, body, headers, redirections, connection_type)

    http = Http(timeout=timeout)
    # The resumable upload protocol answers 308 to mean "resume incomplete"; httplib2 would follow it as a
    # redirect (googleapiclient.http.build_http makes the same change).
    http.redirect_codes = http.redirect_codes - {308}
    return http


def endpoint(option: str | None = None) -> str | None:
    """--api-endpoint URL, else $CS_YOUTUBE_ENDPOINT, else None (Google's servers)."""
    value = option or config.get(ENDPOINT_ENV)
    return value.rstrip("/") + "/" if value else None


def discovery_document(api: str = "youtube", version: str = "v3", endpoint_url: str | None = None) -> dict:
    """The discovery document shipped in googleapiclient, with every root URL pointed at ENDPOINT_URL."""
    import googleapiclient

    path = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" / f"{api}.{version}.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"google-api-python-client has no discovery document for {api} {version}; "
                          f"upgrade it: pip install -U google-api-python-client") from None
    if endpoint_url:
        for key in ("rootUrl", "baseUrl", "mtlsRootUrl"):
            document[key] = endpoint_url
    return document


def build_service(api: str = "youtube", version: str = "v3", endpoint: str | None = None,
                  credentials: Any = None, timeout: int = TIMEOUT_S) -> Any:
    """A googleapiclient Resource for API VERSION ("youtube" "v3", "youtubeAnalytics" "v2"), every call sent
    to ENDPOINT (default Google). Without credentials the service can still build requests (--dry-run)."""
    from googleapiclient.discovery import build_from_document

    http = make_http(timeout)
    if credentials is not None:
        import google_auth_httplib2

        http = google_auth_httplib2.AuthorizedHttp(credentials, http=http)
    return build_from_document(discovery_document(api, version, endpoint), http=http)


def refresh(token: Any, timeout: int = TIMEOUT_S) -> None:
    """Refresh TOKEN's access token now (through the same transport as the API calls)."""
    if token.credentials.valid:
        return
    import google_auth_httplib2

    from .auth import refresh_error

    try:
        token.credentials.refresh(google_auth_httplib2.Request(make_http(timeout)))
    except Exception as exc:
        raise refresh_error(exc, token.path) from None


def error_details(exc: Any) -> tuple[int, str, str]:
    """(status, reason, message) of a googleapiclient HttpError, from Google's JSON error shape."""
    status = int(getattr(getattr(exc, "resp", None), "status", 0) or 0)
    reason, message = "", str(exc)
    try:
        error = json.loads(exc.content.decode("utf-8"))["error"]
        message = error.get("message", message)
        if error.get("errors"):
            reason = error["errors"][0].get("reason", "")
    except (AttributeError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        pass
    return status, reason, message


def is_transient(exc: BaseException) -> bool:
    """5xx, 429 and dropped or refused connections: worth retrying after a pause."""
    from googleapiclient.errors import HttpError

    if isinstance(exc, HttpError):
        status, reason, _ = error_details(exc)
        return status in RETRY_STATUSES and reason not in DEFERRING_REASONS - {"rateLimitExceeded"}
    import httplib2

    return isinstance(exc, (OSError, httplib2.HttpLib2Error)) and not isinstance(exc, FileNotFoundError)


def backoff(attempt: int, cap: float = 64.0) -> float:
    """Exponential backoff with full jitter: a random pause in [0, min(cap, base * 2**attempt)]."""
    base = config.number("CS_YOUTUBE_BACKOFF_BASE")  # tests shorten the pauses
    return random.uniform(0, min(cap, base * 2 ** attempt))


def translate(exc: BaseException, what: str, token_path: Path | None = None) -> Exception:
    """A toolkit error for a failed API call, or EXC itself when it is not an API error."""
    from googleapiclient.errors import HttpError

    from .auth import REAUTH, refresh_error

    try:
        from google.auth.exceptions import RefreshError
    except ImportError:  # pragma: no cover
        RefreshError = ()  # type: ignore
    if isinstance(exc, RefreshError):
        return refresh_error(exc, token_path or Path("the token file"))
    if not isinstance(exc, HttpError):
        if is_transient(exc):
            return EngineError(f"{what}: {type(exc).__name__}: {exc}; the server kept failing, re-run later "
                               f"(the upload resumes where it stopped)", retryable=True)
        return exc
    status, reason, message = error_details(exc)
    line = f"{what}: {status} {reason or 'error'}: {message}"
    if reason in DEFERRING_REASONS or status == 429:
        return QuotaDeferred(f"{line}; deferred, the next run picks it up")
    if status == 401:
        return ConfigError(f"{line}; the token was rejected, {REAUTH}")
    if status == 403 and reason in ("insufficientPermissions", "forbidden", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"):
        return ConfigError(f"{line}; the token lacks a YouTube scope, {REAUTH}")
    if status in (400, 413):
        return BadInput(f"{line}; fix the record's meta")
    return EngineError(f"{line}; re-run later", retryable=status >= 500)


def execute(request: Any, call: str, *, quota: Any = None, token: Any = None, tries: int = 5,
            sleep: Callable[[float], None] = time.sleep) -> Any:
    """Run a non-upload request: charge CALL's units, retry transient failures with backoff, map errors."""
    last: BaseException | None = None
    for attempt in range(tries):
        if attempt:
            sleep(backoff(attempt))
        try:
            if quota is not None:
                quota.charge(call)
            return request.execute(num_retries=0)
        except Exception as exc:
            last = exc
            if not is_transient(exc):
                break
    raise translate(last, call, getattr(token, "path", None)) from None  # type: ignore[arg-type]
