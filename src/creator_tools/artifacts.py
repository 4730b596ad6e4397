"""Artifacts are immutable files named by a hash of their inputs, written to a temp file and renamed into
place, so a killed run never leaves a partial file at a final path and a re-run finds finished work."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .records import fingerprint

OUT_DIR_ENV = "CS_OUT_DIR"


def out_dir() -> Path:
    """Where commands write files: $CS_OUT_DIR, default ./cs-out (relative paths stay relative in records)."""
    return Path(os.environ.get(OUT_DIR_ENV) or "cs-out")


def artifact_path(kind: str, record_id: str, inputs: Any, suffix: str) -> Path:
    """cs-out/KIND/ID-HASH.SUFFIX: the same inputs always name the same file."""
    safe_id = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(record_id))[:40] or "record"
    return out_dir() / kind / f"{safe_id}-{fingerprint(inputs)[:10]}{suffix}"


@contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path in PATH's folder (same suffix, so tools pick the format); rename it over PATH only
    if the block ends without an exception, else remove it."""
    import tempfile

    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f".part{final.suffix}", dir=final.parent)
    os.close(fd)
    try:
        yield Path(temp)
        # mkstemp makes owner-only files; finished artifacts get the usual umask-based mode.
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(temp, 0o666 & ~mask)
        os.replace(temp, final)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_output(path) as temp:
        temp.write_text(text, encoding="utf-8")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_output(path) as temp:
        temp.write_bytes(data)


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file, read in 1 MiB blocks so memory stays flat for any size."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
