"""Child processes (ffmpeg, ffprobe, TTS binaries), run one way.

Every child goes through `run`:
- its stderr is drained by a reader thread while it runs (a child that writes megabytes of warnings never
  blocks on a full pipe), and its last lines are kept for the error message;
- a `timeout` (an overall deadline: a URL that never answers, a bounded probe) and a `stall` watchdog (no
  progress for that long: the `frame=`/`out_time_us=` lines of ffmpeg's `-progress` output stopped growing,
  as when ffmpeg spins on a clip whose frames never decode) kill it and raise `TimedOut` / `Stalled`;
- it is registered so `stop_all()` (a stage's `close()` on SIGTERM or Ctrl-C) kills every live child of every
  worker thread and refuses new ones (`KeyboardInterrupt`).

Standard library only: nothing here imports click or any creator_tools module above `core`. Callers turn
`Failed` into their own errors (media/ffmpeg.py says which record key or file it was).
"""

from __future__ import annotations

import collections
import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Sequence

PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL
FFPROBE_TIMEOUT_ENV = "CS_FFPROBE_TIMEOUT"
STALL_ENV = "CS_FFMPEG_STALL"
TAIL_LINES = 40


def seconds_from_env(name: str, default: float) -> float:
    """A positive number of seconds from the environment variable NAME (empty or unset: DEFAULT); a bad
    value falls back to DEFAULT too (a typo must not remove the bound)."""
    from . import config

    raw = config.get(name, "") or ""
    try:
        value = float(raw) if raw else default
    except ValueError:
        return default
    return value if value > 0 and value == value and value != float("inf") else default


def ffprobe_timeout() -> float:
    return seconds_from_env(FFPROBE_TIMEOUT_ENV, 30.0)


def stall_limit() -> float:
    return seconds_from_env(STALL_ENV, 60.0)


class Failed(Exception):
    """The child exited non-zero (or was killed by a bound). `tail`: its last stderr lines; `frames`: the
    last `frame=` its -progress output reported (0 without one), which says how far it got."""

    def __init__(self, argv: Sequence[str], code: int | None, tail: list[str], why: str = "", frames: int = 0):
        self.argv, self.code, self.tail, self.why, self.frames = list(argv), code, tail, why, frames
        super().__init__(why or f"exit {code}: {self.last_line()}")

    def last_line(self) -> str:
        return next((line for line in reversed(self.tail) if line.strip()), "no message")


class TimedOut(Failed):
    """Killed at its overall deadline."""


class Stalled(Failed):
    """Killed by the watchdog: no progress for `stall` seconds."""


@dataclass
class Result:
    code: int
    stdout: Any  # str/bytes when stdout=PIPE, else None
    tail: list[str] = field(default_factory=list)

    def last_line(self) -> str:
        return next((line for line in reversed(self.tail) if line.strip()), "no message")


# --- the registry of live children -------------------------------------------------------------------
# SIGTERM reaches the main thread only; with -j N the children of the worker threads would run on and land
# their files. The driver calls Stage.close() when it is interrupted, and a stage that runs children calls
# `stop_all()` there: every live child is killed and no new one starts.

_children: set[subprocess.Popen] = set()
_lock = threading.Lock()
_stopping = threading.Event()


def spawn(argv: Sequence[str], **options: Any) -> subprocess.Popen:
    """Popen ARGV, registered so `stop_all` can end it; KeyboardInterrupt once the command is stopping.
    The caller must `release` it (and drain any pipe it asked for): `run` does both."""
    with _lock:
        if _stopping.is_set():
            raise KeyboardInterrupt()
        process = subprocess.Popen(list(argv), **options)
        _children.add(process)
    return process


def release(process: subprocess.Popen) -> None:
    with _lock:
        _children.discard(process)


def stop_all() -> None:
    """Kill every running child of this process and refuse new ones (the command is stopping)."""
    with _lock:
        _stopping.set()
        for process in _children:
            if process.poll() is None:
                process.kill()


def stopping() -> bool:
    return _stopping.is_set()


# --- running one child -----------------------------------------------------------------------------------


class _Progress:
    """When the child last made progress: a `frame=` or `out_time_us=` value (ffmpeg's -progress keys) that
    grew. Lines without those keys do not count (a spinning demuxer prints errors without end)."""

    KEYS = ("frame", "out_time_us")

    def __init__(self) -> None:
        self.at = time.monotonic()
        self.best: dict[str, int] = {}

    def saw(self, line: str) -> bool:
        """Note LINE; True when it is a -progress line (`key=value`, no spaces), which is no message."""
        key, sep, value = line.strip().partition("=")
        if not sep or not key.replace("_", "").isalnum() or " " in value.strip():
            return False
        if key in self.KEYS and value.strip().isdigit():
            number = int(value)
            if number > self.best.get(key, -1):
                self.best[key] = number
                self.at = time.monotonic()
        return True


def _drain(stream: IO, sink: Callable[[Any], None]) -> None:
    try:
        for line in stream:
            sink(line)
    except (OSError, ValueError):  # closed under us when the child was killed
        pass
    finally:
        try:
            stream.close()
        except OSError:
            pass


def run(argv: Sequence[str], *, stdin: Any = DEVNULL, stdout: Any = DEVNULL, text: bool = True,
        input: bytes | str | None = None, on_line: Callable[[str], None] | None = None,
        timeout: float | None = None, stall: float | None = None, tail_lines: int = TAIL_LINES,
        check: bool = True, env: dict | None = None) -> Result:
    """Run ARGV to its end and return its `Result`.

    STDOUT: DEVNULL, a file descriptor, or PIPE (collected whole, or line by line into ON_LINE). INPUT is
    written to the child's stdin from a thread (stdin becomes a pipe). TIMEOUT: seconds before it is killed
    (`TimedOut`). STALL: seconds without ffmpeg progress (`-progress` lines on stdout or stderr) before it is
    killed (`Stalled`). CHECK: a non-zero exit raises `Failed`. A stopping command kills it and raises
    KeyboardInterrupt."""
    tail: collections.deque[str] = collections.deque(maxlen=max(1, tail_lines))
    progress = _Progress()
    chunks: list[Any] = []

    def on_err(line: Any) -> None:
        line = line if isinstance(line, str) else line.decode("utf-8", "replace")
        if not progress.saw(line) and line.strip():
            tail.append(line.rstrip("\n"))

    def on_out(line: Any) -> None:
        if on_line is not None or stall is not None:
            shown = line if isinstance(line, str) else line.decode("utf-8", "replace")
            progress.saw(shown)
            if on_line is not None:
                on_line(shown)
                return
        chunks.append(line)

    if input is not None:
        stdin = PIPE
    process = spawn(argv, stdin=stdin, stdout=stdout, stderr=PIPE, text=text, env=env,
                    **({"errors": "replace"} if text else {}))
    readers = [threading.Thread(target=_drain, args=(process.stderr, on_err), daemon=True)]
    if stdout == PIPE:
        readers.append(threading.Thread(target=_drain, args=(process.stdout, on_out), daemon=True))
    if input is not None:
        readers.append(threading.Thread(target=_feed, args=(process.stdin, input), daemon=True))
    for reader in readers:
        reader.start()
    started = time.monotonic()
    killed: type[Failed] | None = None
    try:
        while True:
            try:
                process.wait(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            if timeout is not None and now - started > timeout:
                killed = TimedOut
            elif stall is not None and now - progress.at > stall:
                killed = Stalled
            if killed:
                process.kill()
                process.wait()
                break
    except BaseException:
        process.kill()
        process.wait()
        raise
    finally:
        for reader in readers:
            reader.join(timeout=5)
        release(process)
    if _stopping.is_set():
        raise KeyboardInterrupt()
    lines, frames = list(tail), progress.best.get("frame", 0)
    if killed is TimedOut:
        raise TimedOut(argv, None, lines, f"no answer within {timeout:g} s", frames)
    if killed is Stalled:
        raise Stalled(argv, None, lines, f"no progress for {stall:g} s", frames)
    joined = ("" if text else b"").join(chunks) if stdout == PIPE and on_line is None else None
    result = Result(process.returncode, joined, lines)
    if check and process.returncode != 0:
        raise Failed(argv, process.returncode, lines, frames=frames)
    return result


def _feed(stream: IO, data: bytes | str) -> None:
    try:
        stream.write(data)
    except (BrokenPipeError, OSError, ValueError):
        pass  # the child stopped reading; its exit status says why
    finally:
        try:
            stream.close()
        except OSError:
            pass


def safe_path(path: Any) -> str:
    """PATH as an ffmpeg/ffprobe argument that can never be read as an option or another protocol: a local
    path gets the `file:` protocol prefix (`CS_OUT_DIR=-dash` made ffprobe read `-dash/...` as an option,
    and `x:y.mp4` names a protocol); a URL (`scheme://`) or a pipe (`pipe:N`) is passed as it is."""
    text = os.fspath(path)
    if "://" in text or text.startswith(("pipe:", "file:")) or text == "-":
        return text
    return "file:" + text
