"""Running ffmpeg and ffprobe: argv lists only (never a shell), progress read from `-progress pipe:1`,
errors turned into one line that quotes ffmpeg's own last words."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from .. import log
from ..errors import BadInput, ConfigError, EngineError


def binary(name: str = "ffmpeg") -> str:
    path = shutil.which(name)
    if not path:
        raise ConfigError(f"{name} not found on PATH; install it (Debian: apt-get install ffmpeg, or run `make setup`)")
    return path


def probe(path: str | Path) -> dict:
    """ffprobe's JSON (format and streams) for a media file (or a URL it reads, such as a signed store URL);
    BadInput when it is missing or not media."""
    if "://" not in str(path) and not Path(path).is_file():
        raise BadInput(f"{path}: no such file; check the path in the record")
    argv = [binary("ffprobe"), "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise BadInput(f"{path}: not a readable media file ({_last_line(done.stderr)})")
    return json.loads(done.stdout)


def duration(path: str | Path) -> float:
    return float(probe(path)["format"].get("duration") or 0.0)


def stream(info: dict, kind: str = "video") -> dict | None:
    """The first stream of KIND (`video`, `audio`) in ffprobe's INFO (from `probe`), or None: the one copy of
    this lookup (cs-render, cs-thumb and cs-publish all ask it)."""
    return next((s for s in info.get("streams") or [] if s.get("codec_type") == kind), None)


@functools.lru_cache(maxsize=None)
def encoders() -> frozenset[str]:
    done = subprocess.run([binary(), "-hide_banner", "-encoders"], capture_output=True, text=True)
    names = set()
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0][0] in "VAS":
            names.add(parts[1])
    return frozenset(names)


# --- children that stop with the command ---------------------------------------------------------------
# SIGTERM reaches the main thread only; with -j N the ffmpeg children of the worker threads would run on and
# land their files. The driver calls Stage.close() when it is interrupted, and a stage that runs ffmpeg calls
# `stop_all()` there: every live child is killed and no new one starts (`cs-render -j 2` under SIGTERM).

_children: set[subprocess.Popen] = set()
_lock = threading.Lock()
_stopping = threading.Event()


def spawn(argv: Sequence[str], **options: Any) -> subprocess.Popen:
    """Popen ARGV, registered so `stop_all` can end it; KeyboardInterrupt once the command is stopping."""
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
    """Kill every running ffmpeg child of this process and refuse new ones (the command is stopping)."""
    with _lock:
        _stopping.set()
        for process in _children:
            if process.poll() is None:
                process.kill()


def stopping() -> bool:
    return _stopping.is_set()


@contextmanager
def _child(argv: Sequence[str], **popen: Any) -> Iterator[subprocess.Popen]:
    """An ffmpeg child that `stop_all` can kill: killed here too if the caller fails, and a KeyboardInterrupt
    once it ends when the command is stopping (its output is then not to be used)."""
    process = spawn(argv, **popen)
    try:
        yield process
    except BaseException:
        process.kill()
        process.wait()
        raise
    finally:
        release(process)
    if _stopping.is_set():
        raise KeyboardInterrupt()


def capture(argv: Sequence[str]) -> tuple[int, str]:
    """Run ARGV (a full command line) to the end; (exit status, stderr). Killed by `stop_all`."""
    with _child(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as process:
        _, stderr = process.communicate()
    return process.returncode, stderr


def run(args: Sequence[str], *, total_seconds: float | None = None, description: str = "ffmpeg",
        stdin: Any = None) -> None:
    """Run `ffmpeg ARGS` (ARGS without the binary), showing progress from -progress on stderr; STDIN is
    what the child reads (a pipe's file descriptor, for `-i pipe:0`). Raises EngineError with ffmpeg's last
    error line when it fails, KeyboardInterrupt when `stop_all` killed it."""
    argv = [binary(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats", *args]
    with log.progress(description, total=round(total_seconds, 1) if total_seconds else None) as update:
        with _child(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
            for line in process.stdout:
                key, _, value = line.strip().partition("=")
                if key == "out_time_us" and value.isdigit():
                    update(completed=round(int(value) / 1e6, 1))
            stderr = process.stderr.read()
            code = process.wait()
    if code != 0:
        raise EngineError(f"ffmpeg failed ({_last_line(stderr)}); re-run with CS_DEBUG=1 to see the command")
    if log.debug_enabled():
        log.info("ran: " + " ".join(argv))


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else "no message"
