"""Running ffmpeg and ffprobe: argv lists only (never a shell), progress read from `-progress pipe:1`,
errors turned into one line that quotes ffmpeg's own last words."""

from __future__ import annotations

from ..core.once import once
import copy
import json
import os
import shutil
import stat
import threading
from pathlib import Path
from typing import Any, Sequence

from .. import log
from ..core import processes
from ..errors import BadInput, ConfigError, EngineError


def binary(name: str = "ffmpeg") -> str:
    path = shutil.which(name)
    if not path:
        raise ConfigError(f"{name} not found on PATH; install it (Debian: apt-get install ffmpeg, or run `make setup`)")
    return path


# ffprobe's answers by file (device, inode, mtime, size): cs-render probes the voice for its length and its
# sample rate, the music at the command line and in the plan, and its video before and after the rename
_PROBED: dict[tuple, dict] = {}
_PROBED_MAX = 256
_PROBED_LOCK = threading.Lock()  # -j workers probe from their own threads


def probe(path: str | Path) -> dict:
    """ffprobe's JSON (format and streams) for a media file (or a URL it reads, such as a signed store URL);
    BadInput when it is missing or not media, or when it gives no answer within CS_FFPROBE_TIMEOUT. A local
    file is probed once per process while it stays the same file (a copy of the answer is returned)."""
    key = None
    if "://" not in str(path):
        try:
            info = os.stat(path)
        except (OSError, ValueError):
            info = None
        if info is None or not stat.S_ISREG(info.st_mode):
            raise BadInput(f"{path}: no such file; check the path in the record")
        key = (info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size)
        with _PROBED_LOCK:
            known = copy.deepcopy(_PROBED.get(key))
        if known is not None:
            return known
    argv = [binary("ffprobe"), "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
            processes.safe_path(path)]
    limit = processes.ffprobe_timeout()
    try:
        done = processes.run(argv, stdout=processes.PIPE, timeout=limit)
    except processes.TimedOut:
        raise BadInput(f"{_shown(path)}: ffprobe had no answer within {limit:g} s; check the file or the "
                       f"network (or raise {processes.FFPROBE_TIMEOUT_ENV})") from None
    except processes.Failed as exc:
        raise BadInput(f"{_shown(path)}: not a readable media file ({exc.last_line()})") from None
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        raise BadInput(f"{_shown(path)}: ffprobe gave no readable answer; check the file") from None
    if key is not None:
        with _PROBED_LOCK:
            if len(_PROBED) >= _PROBED_MAX:
                _PROBED.pop(next(iter(_PROBED)))
            _PROBED[key] = copy.deepcopy(answer)
    return answer


def command(*args: str) -> list[str]:
    """A full ffmpeg command line for ARGS: quiet but for errors, `-progress` on stdout (the watchdog and the
    progress bar read it)."""
    return [binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-progress", "pipe:1", "-nostats", *args]


def _shown(path: str | Path) -> str:
    """PATH for a message: a URL without its query (a signed URL's signature stays out of logs)."""
    text = str(path)
    return text.split("?", 1)[0] if "://" in text else text


def clip_problem(path: str | Path, kind: str = "video") -> str:
    """Why PATH is not a usable clip ("" when it is): ffprobe reading the header is not enough (a truncated
    MP4 whose moov says 6 s probes fine and no frame of it decodes), so its first video frame is DECODED,
    within CS_FFPROBE_TIMEOUT. cs-visuals' library and downloads check clips with this."""
    try:
        info = probe(path)
    except BadInput as exc:
        return exc.message
    if stream(info, kind) is None:
        return f"no {kind} stream"
    argv = command("-i", processes.safe_path(path), "-map", "0:v:0", "-frames:v", "1", "-f", "null", "-")
    frames = []

    def saw(line: str) -> None:
        key, _, value = line.strip().partition("=")
        if key == "frame" and value.isdigit():
            frames.append(int(value))

    limit = processes.ffprobe_timeout()
    try:
        processes.run(argv, stdout=processes.PIPE, on_line=saw, timeout=limit)
    except processes.TimedOut:
        return f"decoding its first frame took over {limit:g} s"
    except processes.Failed as exc:
        return f"no frame decodes ({exc.last_line()})"
    if not frames or max(frames) < 1:
        return "no frame decodes (the file is probably truncated)"
    return ""


def duration(path: str | Path) -> float:
    return float(probe(path)["format"].get("duration") or 0.0)


def stream(info: dict, kind: str = "video") -> dict | None:
    """The first stream of KIND (`video`, `audio`) in ffprobe's INFO (from `probe`), or None: the one copy of
    this lookup (cs-render, cs-thumb and cs-publish all ask it)."""
    return next((s for s in info.get("streams") or [] if s.get("codec_type") == kind), None)


@once
def encoders() -> frozenset[str]:
    done = processes.run([binary(), "-hide_banner", "-encoders"], stdout=processes.PIPE, timeout=30, check=False)
    names = set()
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0][0] in "VAS":
            names.add(parts[1])
    return frozenset(names)


# --- children that stop with the command ---------------------------------------------------------------
# The registry lives in core/processes.py (every child of the project goes through it); these names stay
# here for the media code and stages that call them.

spawn = processes.spawn
release = processes.release
stop_all = processes.stop_all
stopping = processes.stopping


def capture(argv: Sequence[str], *, stall: float | None = None, timeout: float | None = None) -> tuple[int, str]:
    """Run ARGV (a full command line) to the end; (exit status, the last lines of stderr). stderr is drained
    while it runs; killed by `stop_all`, at TIMEOUT, or after STALL seconds without -progress output
    (EngineError for the two bounds)."""
    try:
        done = processes.run(argv, stdout=processes.PIPE if stall else processes.DEVNULL, on_line=ignore if stall else None,
                             timeout=timeout, stall=stall, check=False, tail_lines=200)
    except processes.Failed as exc:  # TimedOut or Stalled
        raise EngineError(f"ffmpeg stopped: {exc.why} ({exc.last_line()}); check the input files") from None
    return done.code, "\n".join(done.tail)


def ignore(_line: str) -> None:
    """An on_line that drops -progress lines (the watchdog has seen them)."""
    pass


def run(args: Sequence[str], *, total_seconds: float | None = None, description: str = "ffmpeg",
        stdin: Any = None, stall: float | None = None, env: dict | None = None) -> None:
    """Run `ffmpeg ARGS` (ARGS without the binary), showing progress from -progress on stderr; STDIN is
    what the child reads (a pipe's file descriptor, for `-i pipe:0`). stderr is drained while it runs, and
    the watchdog kills it after STALL seconds (default CS_FFMPEG_STALL, 60) without a new frame. Raises
    EngineError with ffmpeg's last error line when it fails or stalls, KeyboardInterrupt when `stop_all`
    killed it."""
    argv = command("-y", *args)
    with log.progress(description, total=round(total_seconds, 1) if total_seconds else None) as update:
        def saw(line: str) -> None:
            key, _, value = line.strip().partition("=")
            if key == "out_time_us" and value.isdigit():
                update(completed=round(int(value) / 1e6, 1))

        try:
            processes.run(argv, stdin=stdin if stdin is not None else processes.DEVNULL, stdout=processes.PIPE,
                          on_line=saw, stall=stall or processes.stall_limit(), env=env)
        except processes.Stalled as exc:
            raise EngineError(f"ffmpeg stopped: {exc.why} ({exc.last_line()}); check the input files "
                              f"(or raise {processes.STALL_ENV})") from None
        except processes.Failed as exc:
            raise EngineError(f"ffmpeg failed ({exc.last_line()}); re-run with CS_DEBUG=1 to see the command") from None
        finally:
            if log.debug_enabled():
                log.info("ran: " + " ".join(argv))
