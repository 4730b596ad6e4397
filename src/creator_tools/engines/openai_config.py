"""The one configuration of every OpenAI-compatible client (LLM, TTS, image generation): which server, which
key, how many retries, how long to wait. A variable set to an empty string counts as unset everywhere, so
`OPENAI_BASE_URL= cs-script ...` and `OPENAI_BASE_URL= cs-voice ...` behave the same.

Image generation may use its own server: CS_IMAGES_BASE_URL / CS_IMAGES_API_KEY come before
OPENAI_BASE_URL / OPENAI_API_KEY (a GPU box for pictures, a hosted API for text).

Retries are ours, not the client's (`max_retries=0`), so each one says so on stderr (`with_retries`): a
timeout, a 5xx, a 429 or a dropped connection is tried again CS_OPENAI_RETRIES times (CS_LLM_RETRIES,
CS_TTS_RETRIES first), each waiting at most CS_OPENAI_TIMEOUT seconds, and then that record is deferred
(QuotaDeferred, exit 4: the other records go on). A server that refuses the connection before it ever
answered is a setup error: one fatal line."""

from __future__ import annotations

from dataclasses import dataclass

from typing import Callable, TypeVar

from ..errors import ConfigError, EngineError, QuotaDeferred
from ..core import config

T = TypeVar("T")

DEFAULT_BASE_URL = "https://api.openai.com/v1"
BASE_ENV = "OPENAI_BASE_URL"
KEY_ENV = "OPENAI_API_KEY"


def env(name: str) -> str | None:
    """$NAME stripped; None when unset or empty."""
    return config.get(name)


def http_url(variable: str, value: str) -> str:
    """VALUE, the base URL $VARIABLE gave, when it is http(s)://host...; else one ConfigError naming the
    variable (once, at start-up: not an "unknown url type" for every record)."""
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{variable}={value!r} is not an http:// or https:// URL; set it to the API's base "
                          "URL (e.g. http://127.0.0.1:8080/v1) or unset it")
    return value


@dataclass(frozen=True)
class OpenAIConfig:
    base_url: str | None  # None: api.openai.com
    api_key: str | None
    base_variable: str  # the variable the base URL came from (or would come from), for messages
    key_variable: str
    retries: int
    timeout: float
    cap_kind: str = "json"  # core.http's size cap the answers are held to: `json` (text), `clip` (audio)

    @property
    def url(self) -> str:
        return (self.base_url or DEFAULT_BASE_URL).rstrip("/")

    @property
    def where(self) -> str:
        return self.base_url or "api.openai.com"

    def require_key(self, what: str, alternative: str) -> None:
        """ConfigError unless there is a key, or a base URL (local servers often need none)."""
        if not self.api_key and not self.base_url:
            raise ConfigError(f"{what} needs {self.key_variable} (or {self.base_variable} for a local "
                              f"OpenAI-compatible server); set it, or {alternative}")

    def client_options(self) -> dict:
        """Keyword arguments for openai.OpenAI: the client insists on a key even where the server needs none.
        The client never retries by itself (`with_retries` does, out loud)."""
        return {"base_url": self.url, "api_key": self.api_key or "not-needed", "max_retries": 0,
                "timeout": self.timeout, "http_client": capped_client(self.cap_kind, self.timeout)}


def capped_client(kind: str, timeout: float):
    """An httpx client whose answers stop at core.http's cap for KIND (CS_MAX_JSON_MB for text,
    CS_MAX_CLIP_MB for audio), as every other download does: the openai client reads a whole answer into
    memory, so a server that sends gigabytes (or never stops) would take the machine's memory with it.
    Answers come uncompressed, so the cap counts what is held, not what a gzip bomb unpacks to."""
    import httpx

    from ..core import http

    limits = http.Limits.of(kind)
    then = "raise it if that answer is right"

    class Capped(httpx.SyncByteStream):
        def __init__(self, stream, url: str):
            self.stream, self.url = stream, url

        def __iter__(self):
            held = 0
            for chunk in self.stream:
                held += len(chunk)
                if held > limits.cap:
                    raise http.too_large(self.url, held, limits, declared=False, then=then)
                yield chunk

        def close(self) -> None:
            self.stream.close()

    class Transport(httpx.HTTPTransport):
        def handle_request(self, request):
            answer = super().handle_request(request)
            url = http.shown(str(request.url))
            declared = answer.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limits.cap:
                answer.close()
                raise http.too_large(url, int(declared), limits, declared=True, then=then)
            return httpx.Response(answer.status_code, headers=answer.headers, stream=Capped(answer.stream, url),
                                  extensions=answer.extensions, request=request)

    # redirects followed as the openai client's own default client does
    return httpx.Client(transport=Transport(), timeout=timeout, follow_redirects=True,
                        headers={"Accept-Encoding": "identity"})


class Answered:
    """Whether a server has answered this process once: a refused connection before that is a setup error
    (wrong OPENAI_BASE_URL, server not started), after it a hiccup worth retrying."""

    def __init__(self) -> None:
        self.once = False


def with_retries(config: OpenAIConfig, what: str, call: Callable[[], T], answered: Answered) -> T:
    """CALL() (an openai client request), retried on timeouts, 5xx, 429 and dropped connections with one
    stderr line per retry; then QuotaDeferred naming the server, so the record is deferred (exit 4) and the
    others go on. A connection refused before the server ever answered: ConfigError (one fatal line).
    Other errors pass through for the caller to word."""
    import time

    import openai

    from .. import log
    from ..core import http
    from ..core.http import backoff, retry_after

    tries = max(1, config.retries + 1)
    for attempt in range(tries):
        try:
            result = call()
            answered.once = True
            return result
        except http.TooLarge as exc:  # an answer over its cap: asking again brings the same
            raise EngineError(str(exc)) from None
        except openai.APITimeoutError:
            failure = f"{config.where} did not answer {what} within {config.timeout:g} s (CS_OPENAI_TIMEOUT)"
            wait = backoff(attempt)
        except openai.APIConnectionError as exc:
            if isinstance(_root(exc), http.TooLarge):  # the same, wrapped by the client
                raise EngineError(str(_root(exc))) from None
            if not answered.once:
                raise ConfigError(f"cannot reach the OpenAI-compatible API at {config.where} "
                                  f"({_cause(exc)}); start it or fix {config.base_variable}") from None
            failure = f"the connection to {config.where} failed during {what} ({_cause(exc)})"
            wait = backoff(attempt)
        except openai.RateLimitError as exc:
            answered.once = True
            failure = f"{config.where} rate-limited {what} (HTTP 429)"
            wait = min(retry_after(exc.response.headers.get("Retry-After"), backoff(attempt)), 60.0)
        except openai.InternalServerError as exc:
            answered.once = True
            failure = f"{config.where} failed {what} with HTTP {exc.status_code}"
            wait = backoff(attempt)
        if attempt + 1 < tries:
            log.warn(f"{failure}; retrying in {wait:.1f} s (try {attempt + 2} of {tries})")
            time.sleep(wait)
    raise QuotaDeferred(f"{failure} after {tries} tries; the record is deferred: run again later "
                        "(CS_OPENAI_TIMEOUT and CS_OPENAI_RETRIES set the wait and the tries)")


def _root(exc: BaseException) -> BaseException:
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__
    return exc


def _cause(exc: BaseException) -> str:
    """The root reason of a connection error ("Connection refused"), not the client's generic text."""
    exc = _root(exc)
    text = str(exc)
    return text.split("] ", 1)[-1] if text.startswith("[Errno") else text or type(exc).__name__


def openai_config(service: str, *, prefix: str | None = None, retries: int = 4, timeout: float = 120.0) -> OpenAIConfig:
    """The configuration SERVICE (llm, tts, images) uses. PREFIX (e.g. CS_IMAGES) names variables that come
    before OPENAI_*; CS_<SERVICE>_RETRIES / _TIMEOUT, else CS_OPENAI_RETRIES / _TIMEOUT, override the defaults."""
    base_vars = [f"{prefix}_BASE_URL", BASE_ENV] if prefix else [BASE_ENV]
    key_vars = [f"{prefix}_API_KEY", KEY_ENV] if prefix else [KEY_ENV]
    base_var = next((name for name in base_vars if env(name)), None)
    key_var = next((name for name in key_vars if env(name)), None)
    upper = service.upper()
    return OpenAIConfig(
        base_url=http_url(base_var, env(base_var)) if base_var else None, api_key=env(key_var) if key_var else None,
        base_variable=base_var or " or ".join(base_vars), key_variable=key_var or " or ".join(key_vars),
        retries=_number(f"CS_{upper}_RETRIES", "CS_OPENAI_RETRIES", retries, int),
        timeout=_number(f"CS_{upper}_TIMEOUT", "CS_OPENAI_TIMEOUT", timeout, float),
        cap_kind="clip" if service == "tts" else "json")


def _number(first: str, second: str, default, kind):
    for name in (first, second):
        value = env(name)
        if value is not None:
            try:
                return kind(value)
            except ValueError:
                raise ConfigError(f"{name}={value!r} is not a number; set it to one or unset it") from None
    return default
