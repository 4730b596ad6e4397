"""Output files: -o records, --metrics and other output flags (--plot). A path is checked before any work;
a regular file is replaced only when the run ends well (core.files' atomic writer), a FIFO or device is
written straight through, and a symlink keeps pointing at the new file."""

from __future__ import annotations

import os
import sys
from typing import IO, TYPE_CHECKING, Iterator

from .. import log
from ..core import files
from ..errors import UsageError

if TYPE_CHECKING:
    from .metrics import Metrics
    from .stage import PipeOptions


def silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def parents(path: str) -> Iterator[str]:
    """PATH and the folders above it, nearest first."""
    while path and path != os.path.dirname(path):
        yield path
        path = os.path.dirname(path)


def output_path(flag: str, path: str, example: str) -> str:
    """The file PATH names for FLAG (symlinks followed, so a link keeps pointing at the new file), with its
    folder made. UsageError, before any work, when PATH is a folder or its folder cannot be made."""
    real = os.path.realpath(path)
    if os.path.isdir(real):
        raise UsageError(f"{flag} {path} is a folder; give a file name, e.g. {os.path.join(path, example)}")
    folder = os.path.dirname(real)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in parents(folder) if os.path.isfile(p)), None)
        reason = f"{blocker} is a file, not a folder" if blocker else f"cannot make {folder} ({exc.strerror})"
        raise UsageError(f"{flag} {path}: {reason}; choose a path in a folder you can write to") from None
    return real


def check_metrics_path(opts: "PipeOptions", command: str) -> None:
    """--metrics names a file we can write that is neither -o nor an input: checked before any record."""
    output_path("--metrics", opts.metrics, f"{command}.prom")
    _not_also(opts.metrics, opts)


def _not_also(metrics: str, opts: "PipeOptions") -> None:
    """--metrics must not name the records' output or an input file: its few lines would replace them."""
    if special_file(metrics):
        return  # a FIFO or device is written straight to, and replaces nothing
    real = os.path.realpath(metrics)
    for flag, other in [("-o", opts.output), *(("-i", path) for path in opts.inputs)]:
        if other and other != "-" and os.path.realpath(other) == real:
            raise UsageError(f"--metrics {metrics} is also given to {flag}; the metrics would replace those records. "
                             "Choose another file for --metrics")


special_file = files.special_file  # a FIFO or device: written straight to, never replaced by a rename


class Output:
    """Where records go: stdout; a special file, written straight to; or an exclusive temp file beside a
    regular file, renamed over it only when the run ends well (a failed run leaves the old file as it was)."""

    def __init__(self, path: str | None):
        self.path, self.file = path, None
        if not path or path == "-":
            self.handle: IO[str] = sys.stdout
            return
        output_path("-o", path, "out.jsonl")
        try:
            self.file = files.AtomicFile(path)
        except files.DiskFull as exc:
            raise UsageError(f"cannot write -o {path}: {exc.message}") from None
        except OSError as exc:
            raise UsageError(f"cannot write -o {path} ({exc.strerror}); choose another path") from None
        self.handle = self.file.handle

    @property
    def replaces(self) -> bool:
        return self.file is not None and self.file.replaces

    def finish(self, ok: bool, announce: bool = True) -> bool:
        """Publish the output when OK, else discard it; False when publishing failed."""
        if self.file is None:
            return True
        if not ok:
            self.file.discard()
            if announce and self.replaces:
                log.error(f"{self.path} left as it was; the partial output was discarded")
            return True
        try:
            self.file.commit()
            return True
        except files.DiskFull as exc:
            log.error(f"cannot write -o {self.path}: {exc.message}; the records were not saved")
        except OSError as exc:  # the folder went away or lost its permissions during the run
            if exc.strerror:  # a failed write was already reported by _emit
                log.error(f"cannot write -o {self.path} ({exc.strerror}); the records were not saved")
        return False


def write_metrics(path: str, metrics: "Metrics") -> bool:
    """Write the metrics as -o writes records (a device or FIFO straight, a file by rename); False, with
    one error line, when that fails (/dev/full, a folder removed meanwhile)."""
    try:
        files.atomic_write_text(path, metrics.render())
        return True
    except files.DiskFull as exc:
        log.error(f"cannot write --metrics {path}: {exc.message}; the records were written")
    except OSError as exc:
        log.error(f"cannot write --metrics {path} ({exc.strerror}); the records were written; choose another path")
    return False


