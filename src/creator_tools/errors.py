"""The exception tree. Library code raises these; only the driver in pipe.py turns them into
stderr lines, error records and exit codes. No click here, so engines can raise without the CLI."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    ERROR = 1  # fatal: the command stopped
    USAGE = 2
    RECORD_ERRORS = 3  # finished, but some records became error records
    DEFERRED = 4  # some records were deferred (quota, rate limit); retry later
    INTERRUPTED = 130


class CSError(Exception):
    """Base of every error the toolkit reports. `message` says what happened and what to do."""

    exit_status = ExitStatus.ERROR
    retryable = False

    def __init__(self, message: str, *, retryable: bool | None = None):
        super().__init__(message)
        self.message = message
        if retryable is not None:
            self.retryable = retryable

    @property
    def type(self) -> str:
        return type(self).__name__

    def __reduce__(self):
        # Errors cross processes on a cluster (--cluster). Rebuilt without calling __init__, so a subclass with
        # its own signature (MissingInput(key, stage)) comes back whole, message and attributes included.
        return _rebuild, (type(self), self.args, dict(self.__dict__))


def _rebuild(cls: type, args: tuple, state: dict) -> CSError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class UsageError(CSError):
    """Flags or arguments that cannot work together."""

    exit_status = ExitStatus.USAGE


class BadInput(CSError):
    """A line or record that cannot be processed as given."""


class MissingInput(BadInput):
    """A record lacks a key that an earlier stage adds."""

    def __init__(self, key: str, stage: str, extra: str = ""):
        hint = f"run {stage} first" + (f" ({extra})" if extra else "")
        super().__init__(f"record has no '{key}' key; {hint}")
        self.key = key
        self.stage = stage


class ConfigError(CSError):
    """Missing key, unreachable server, missing model: the user must change configuration."""


class EngineError(CSError):
    """An engine (LLM, TTS, STT, ffmpeg, API) failed on this record."""


class QuotaDeferred(CSError):
    """Not done now because of quota or rate limits; the next run picks it up."""

    exit_status = ExitStatus.DEFERRED
    retryable = True
