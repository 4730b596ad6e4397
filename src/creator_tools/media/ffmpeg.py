"""Running ffmpeg and ffprobe: argv lists only (never a shell), progress read from `-progress pipe:1`,
errors turned into one line that quotes ffmpeg's own last words."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from pathlib import Path
from typing import Sequence

from .. import log
from ..errors import BadInput, ConfigError, EngineError


def binary(name: str = "ffmpeg") -> str:
    path = shutil.which(name)
    if not path:
        raise ConfigError(f"{name} not found on PATH; install it (Debian: apt-get install ffmpeg, or run `make setup`)")
    return path


def probe(path: str | Path) -> dict:
    """ffprobe's JSON (format and streams) for a media file; BadInput when it is missing or not media."""
    if not Path(path).is_file():
        raise BadInput(f"{path}: no such file; check the path in the record")
    argv = [binary("ffprobe"), "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise BadInput(f"{path}: not a readable media file ({_last_line(done.stderr)})")
    return json.loads(done.stdout)


def duration(path: str | Path) -> float:
    return float(probe(path)["format"].get("duration") or 0.0)


@functools.lru_cache(maxsize=None)
def encoders() -> frozenset[str]:
    done = subprocess.run([binary(), "-hide_banner", "-encoders"], capture_output=True, text=True)
    names = set()
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0][0] in "VAS":
            names.add(parts[1])
    return frozenset(names)


@functools.lru_cache(maxsize=None)
def filters() -> frozenset[str]:
    done = subprocess.run([binary(), "-hide_banner", "-filters"], capture_output=True, text=True)
    return frozenset(line.split()[1] for line in done.stdout.splitlines() if len(line.split()) > 2 and "->" in line)


def run(args: Sequence[str], *, total_seconds: float | None = None, description: str = "ffmpeg") -> None:
    """Run `ffmpeg ARGS` (ARGS without the binary), showing progress from -progress on stderr.
    Raises EngineError with ffmpeg's last error line when it fails."""
    argv = [binary(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats", *args]
    with log.progress(description, total=round(total_seconds, 1) if total_seconds else None) as update:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            for line in process.stdout:
                key, _, value = line.strip().partition("=")
                if key == "out_time_us" and value.isdigit():
                    update(completed=round(int(value) / 1e6, 1))
            stderr = process.stderr.read()
            code = process.wait()
        except BaseException:
            process.kill()
            process.wait()
            raise
    if code != 0:
        raise EngineError(f"ffmpeg failed ({_last_line(stderr)}); re-run with CS_DEBUG=1 to see the command")
    if log.debug_enabled():
        log.info("ran: " + " ".join(argv))


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else "no message"
