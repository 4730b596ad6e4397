"""The one way the toolkit writes a file: a temp file created exclusively beside the target, fsync'd, then
renamed over it, so no final path ever holds a partial file (a killed run, a full disk, an error).

- The temp name is random and made with O_CREAT|O_EXCL (mkstemp), so a link planted at a guessable name
  is never followed (`.out.jsonl.1234.tmp -> ~/.bashrc` once received the records).
- Permission bits: MODE when given (0600 for tokens and ledgers), else 0666 less the umask read once at
  import, never by flipping os.umask while other threads create files.
- A FIFO or device (`-o /dev/stdout`, `mkfifo`) is written straight through; a symlinked target is followed,
  so the link keeps pointing at the new file.
- `replace=False` publishes only if nothing is there yet: two identical runs on one CS_OUT_DIR keep one file
  and both describe that one (Piper and x264 are not byte-deterministic).
- Temp names carry the host and PID; the first write into a folder sweeps temps of dead processes there
  (a SIGKILL leaves no lasting litter), and `scratch_dir` makes per-run folders swept the same way.
- A full disk is one line naming the folder and "free space", not `[Errno 28]`.
"""

from __future__ import annotations

import errno
import os
import re
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from ..errors import ConfigError


def _read_umask() -> int:
    """The process umask, without changing it where Linux tells it (/proc/self/status, kernel >= 4.7); else
    by the classic set-and-restore, done once here at import, before commands start threads."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _read_umask()
FILE_MODE = 0o666 & ~UMASK
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", os.uname().nodename)[:24] or "host"
_TAG = f"{_HOST}-{os.getpid()}"  # in every temp name: whose it is, for the sweep
_TEMP = re.compile(r"\.(?P<host>[A-Za-z0-9-]+)-(?P<pid>\d+)\.[^.]+\.(?:part|tmp)")  # host-pid.RANDOM.part
_swept: set[str] = set()
_swept_lock = threading.Lock()


class DiskFull(ConfigError):
    """No space left (or quota exceeded) in a folder: every record would fail alike, so the run stops once."""

    def __init__(self, folder: str | os.PathLike):
        super().__init__(f"no space left in {folder}; free space there (or point CS_OUT_DIR / -o elsewhere) "
                         "and re-run (finished files are reused)")
        self.folder = str(folder)


def no_space(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def special_file(path: str | os.PathLike) -> bool:
    """A device or FIFO (/dev/null, /dev/full, mkfifo): written straight to, never replaced by a rename."""
    return os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path)


def target(path: str | os.PathLike) -> Path:
    """The file a write to PATH lands in: symlinks followed, so `-o link` rewrites what the link names."""
    return Path(os.path.realpath(path))


def _temp_in(final: Path) -> tuple[int, str]:
    """An exclusive temp file beside FINAL (same suffix, so tools pick the format), its folder made."""
    import tempfile  # here, not at import: --help stays instant

    final.parent.mkdir(parents=True, exist_ok=True)
    sweep(final.parent)
    try:
        return tempfile.mkstemp(prefix=f".{final.stem[:60]}.{_TAG}.", suffix=f".part{final.suffix}",
                                dir=final.parent)
    except OSError as exc:
        if no_space(exc):
            raise DiskFull(final.parent) from exc
        raise


def _finish(temp: str, final: Path, mode: int | None, replace: bool) -> bool:
    """fsync TEMP, give it its mode and move it to FINAL; with REPLACE False only if FINAL is absent.
    True when TEMP became FINAL (False: another run's file was there first and stays)."""
    fd = os.open(temp, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename must not publish a name whose bytes are still only in memory
    finally:
        os.close(fd)
    os.chmod(temp, FILE_MODE if mode is None else mode)
    if replace:
        os.replace(temp, final)
        return True
    return publish_if_absent(temp, final)


def publish_if_absent(temp: str | os.PathLike, final: str | os.PathLike) -> bool:
    """Move TEMP to FINAL unless a file is already there (then TEMP is removed and the one there stays).
    A hard link fails atomically when FINAL exists, so of two racing runs exactly one wins."""
    try:
        os.link(temp, final)
    except FileExistsError:
        os.unlink(temp)
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK, errno.ENOSYS):
            raise
        # No hard links here (some FUSE and SMB mounts): not atomic, but a finished file is never replaced.
        if os.path.exists(final):
            os.unlink(temp)
            return False
        os.replace(temp, final)
        return True
    os.unlink(temp)
    return True


def _discard(temp: str | None) -> None:
    if temp:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass


class AtomicFile:
    """An open file whose content reaches PATH only on `commit()`; `discard()` (or an error) leaves PATH as
    it was. A FIFO or device at PATH is written straight to. For streams (-o records, --metrics)."""

    def __init__(self, path: str | os.PathLike, mode: int | None = None, *, binary: bool = False,
                 replace: bool = True):
        self.path, self.final, self.mode, self.replace = str(path), target(path), mode, replace
        self.temp: str | None = None
        if special_file(self.final):
            self.handle: IO = open(self.final, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"}))
            return
        fd, self.temp = _temp_in(self.final)
        try:
            self.handle = os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"}))
        except BaseException:
            os.close(fd)
            _discard(self.temp)
            raise

    @property
    def replaces(self) -> bool:
        """Whether PATH is a regular file swapped in at the end (not a FIFO or device written live)."""
        return self.temp is not None

    def commit(self) -> bool:
        """Publish; True when this file is now at PATH. DiskFull when the last bytes did not fit."""
        try:
            self.handle.close()
            if self.temp is None:
                return True
            won = _finish(self.temp, self.final, self.mode, self.replace)
            self.temp = None
            return won
        except BaseException as exc:
            self.discard()
            if no_space(exc):
                raise DiskFull(self.final.parent) from exc
            raise

    def discard(self) -> None:
        try:
            self.handle.close()
        except OSError:
            pass  # a full disk: the write that failed was reported
        _discard(self.temp)
        self.temp = None


class Output:
    """What `atomic_output` yields: `temp` to write (a path other tools can open by name) and, after the
    block, `won` (False when replace=False and another run's file was there first) and `final`."""

    def __init__(self, temp: Path, final: Path):
        self.temp, self.final, self.won = temp, final, True

    def __fspath__(self) -> str:
        return str(self.temp)

    def __str__(self) -> str:
        return str(self.temp)


@contextmanager
def atomic_output(path: str | os.PathLike, mode: int | None = None, *, replace: bool = True) -> Iterator[Path]:
    """Yield a temp path beside PATH (same suffix) to write, by this process or by a tool (ffmpeg); moved
    to PATH when the block ends without an exception, else removed. A FIFO or device PATH is yielded
    itself (written straight through). With REPLACE False an existing PATH is kept (see `atomic_publish`)."""
    with atomic_publish(path, mode, replace=replace) as out:
        yield out.temp


@contextmanager
def atomic_publish(path: str | os.PathLike, mode: int | None = None, *, replace: bool = True) -> Iterator[Output]:
    """`atomic_output`, yielding an `Output` whose `won` says, after the block, whether this run's file is
    the one at PATH: describe `out.final` then, so a record always describes the file that is there."""
    final = target(path)
    temp = None
    if special_file(final):
        out = Output(final, final)
    else:
        fd, temp = _temp_in(final)
        os.close(fd)
        out = Output(Path(temp), final)
    try:
        yield out
        if temp:
            out.won = _finish(temp, final, mode, replace)
    except BaseException as exc:
        _discard(temp)
        if no_space(exc):
            raise DiskFull(final.parent) from exc
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes, mode: int | None = None, *,
                       replace: bool = True) -> bool:
    """Write DATA to PATH atomically; True when it is this data at PATH now (see `replace`)."""
    with atomic_publish(path, mode, replace=replace) as out:
        with open(out.temp, "wb") as handle:
            handle.write(data)
    return out.won


def atomic_write_text(path: str | os.PathLike, text: str, mode: int | None = None, *,
                      replace: bool = True) -> bool:
    return atomic_write_bytes(path, text.encode("utf-8"), mode, replace=replace)


def private_dir(path: str | os.PathLike) -> Path:
    """PATH made (with parents) and set to 0700: state folders hold tokens, upload session URIs, ledgers."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    if folder.stat().st_mode & 0o077:
        os.chmod(folder, PRIVATE_DIR)
    return folder


def make_private(path: str | os.PathLike) -> None:
    """Mode 0600 on an existing file (a ledger SQLite made by an older release, its -wal and -shm)."""
    try:
        if os.stat(path).st_mode & 0o077:
            os.chmod(path, PRIVATE_FILE)
    except FileNotFoundError:
        pass


# --- scratch and sweeping ---------------------------------------------------------------------------------


def scratch_dir(base: str | os.PathLike, prefix: str) -> Path:
    """A fresh folder BASE/.tmp/PREFIX-HOST-PID.RANDOM.tmp for one run's scratch (cs-render's frames);
    the caller removes it, and a SIGKILL'd run's folder is swept by the next run."""
    import tempfile

    folder = Path(base) / ".tmp"
    folder.mkdir(parents=True, exist_ok=True)
    sweep(folder)
    try:
        return Path(tempfile.mkdtemp(prefix=f"{prefix}.{_TAG}.", suffix=".tmp", dir=folder))
    except OSError as exc:
        if no_space(exc):
            raise DiskFull(folder) from exc
        raise


@contextmanager
def scratch(base: str | os.PathLike, prefix: str) -> Iterator[Path]:
    """`scratch_dir` for the block, removed when it ends however it ends (a SIGKILL: by the next sweep)."""
    import shutil

    folder = scratch_dir(base, prefix)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def sweep(folder: str | os.PathLike, *, again: bool = False) -> list[str]:
    """Remove the temp files and scratch folders in FOLDER left by dead processes of this host (once per
    folder and process unless AGAIN). Others' hosts are left alone: on a shared folder their PIDs mean
    nothing here. Returns the names removed."""
    key = os.path.abspath(folder)
    with _swept_lock:
        if key in _swept and not again:
            return []
        _swept.add(key)
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        found = _TEMP.search(entry.name)
        if not found or found["host"] != _HOST or _alive(int(found["pid"])):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                import shutil

                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
            removed.append(entry.name)
        except OSError:
            pass  # gone already, or not ours to remove
    return removed
