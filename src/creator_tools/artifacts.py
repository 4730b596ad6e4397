"""Artifacts are immutable files named by a hash of their inputs, written to a temp file and renamed into
place, so a killed run never leaves a partial file at a final path and a re-run finds finished work.

`CS_OUT_DIR` is a folder or a store URL (`s3://bucket/prefix`, storage.py). With a store, a stage writes
its file under a local staging folder (`artifact_path`, as before), then `publish(path)` puts it in the
store if absent and returns the `s3://` URI that the record carries. Whatever a stage reads goes through
`local_path(path_or_uri)`: a local path as it is, an object fetched once into a cache keyed by its hash."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import IO, Any

from .core import config, files
from .records import fingerprint

OUT_DIR_ENV = config.variable("CS_OUT_DIR")
CACHE_DIR_ENV = config.variable("CS_CACHE_DIR")
out_location = config.out_location  # $CS_OUT_DIR as given: a folder (default ./cs-out) or s3://bucket/prefix


def out_dir() -> Path:
    """Where commands write files: $CS_OUT_DIR, default ./cs-out (relative paths stay relative in records);
    for a store URL, the local staging folder that `publish` uploads from."""
    from . import storage

    scheme, bucket, prefix = storage.split(out_location())
    if scheme == "local":
        return Path(bucket)
    storage.get_store(scheme, bucket)  # a missing bucket or a wrong key fails before any work, once per process
    return cache_dir() / "out" / scheme / bucket / prefix


def cache_dir() -> Path:
    """$CS_CACHE_DIR, else $XDG_CACHE_HOME/creator-tools (~/.cache when unset): safe to delete at any time."""
    if config.is_set(CACHE_DIR_ENV):
        folder = Path(config.get(CACHE_DIR_ENV))
    else:
        folder = Path(config.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "creator-tools"
    if folder.exists() and not folder.is_dir():
        from .errors import ConfigError

        raise ConfigError(f"the cache folder {folder} is a file; point {CACHE_DIR_ENV} at a folder (or unset it)")
    return folder


def scratch(prefix: str):
    """A per-run scratch folder under $CS_OUT_DIR/.tmp/ (cs-render's segments, cs-thumb's frames), removed
    at the end; a killed run's is swept by the next run, so nothing piles up in /tmp (core.files.scratch)."""
    return files.scratch(out_dir(), prefix)


def artifact_path(kind: str, record_id: str, inputs: Any, suffix: str) -> Path:
    """cs-out/KIND/ID-HASH.SUFFIX: the same inputs always name the same file."""
    safe_id = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(record_id))[:40] or "record"
    return out_dir() / kind / f"{safe_id}-{fingerprint(inputs)[:10]}{suffix}"


def atomic_output(path: str | os.PathLike, mode: int | None = None, *, replace: bool = True):
    """core.files.atomic_output: a temp path beside PATH, renamed over it when the block ends well."""
    return files.atomic_output(path, mode, replace=replace)


atomic_publish = files.atomic_publish
atomic_write_text = files.atomic_write_text
atomic_write_bytes = files.atomic_write_bytes


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file, read in 1 MiB blocks so memory stays flat for any size."""
    with open(path, "rb") as handle:
        return stream_sha256(handle)


def stream_sha256(stream: IO[bytes]) -> str:
    """sha256 of what STREAM holds from here on, read in 1 MiB blocks."""
    import hashlib

    digest = hashlib.sha256()
    while block := stream.read(1 << 20):
        digest.update(block)
    return digest.hexdigest()


# --- artifacts in a store -----------------------------------------------------------------------------


def publish(path: str | os.PathLike) -> str:
    """Where the record should point for the file at PATH: PATH itself with a local CS_OUT_DIR; with a store,
    the object's URI after a put-if-absent (a re-run or a racing worker that finds it there sends nothing)."""
    from . import log, storage

    scheme, bucket, prefix = storage.split(out_location())
    local = Path(path)
    if scheme == "local":
        return str(path)
    try:
        relative = local.resolve().relative_to(out_dir().resolve())
    except ValueError:  # not an artifact of this run (a user's own file): it stays where it is
        return str(path)
    key = "/".join(part for part in (prefix, *relative.parts) if part)
    sha = file_sha256(local)
    store = storage.get_store(scheme, bucket)
    if not store.put_if_absent(str(local), key, sha):
        found = store.head(key) or {}
        if found.get("sha256") not in (None, sha):
            log.warn(f"{store.uri(key)} was stored by another worker from the same inputs with other bytes; "
                     "records point at the stored one")
            return store.uri(key)
    _into_cache(local, sha)
    return store.uri(key)


def exists(path_or_uri: Any) -> bool:
    """Whether the artifact is still there: a local file, or an object in its store."""
    from . import storage

    if not isinstance(path_or_uri, (str, os.PathLike)) or not str(path_or_uri):
        return False
    if storage.is_uri(str(path_or_uri)):
        store, key = _store_of(str(path_or_uri))
        return store.head(key) is not None
    return os.path.isfile(path_or_uri)


def _found(uri: str) -> tuple[Any, str, dict[str, Any]]:
    """(store, key, head) of an object a record names; BadInput when it is not there."""
    store, key = _store_of(uri)
    found = store.head(key)
    if found is None:
        from .errors import BadInput

        raise BadInput(f"{uri}: no such object in the store; re-run the stage that made it (with --force)")
    return store, key, found


def _store_of(uri: str) -> tuple[Any, str]:
    """(store, key) of a URI a record holds. A bucket missing from the store, or a URI with none, is that
    record's error (with -k the others go on), unlike the same fault in CS_OUT_DIR."""
    from . import storage
    from .errors import BadInput

    try:
        scheme, bucket, key = storage.split(uri)
        return storage.get_store(scheme, bucket), key
    except storage.NoBucket as exc:
        missing = f"bucket '{exc.bucket}' does not exist in the store" if exc.bucket else "names no bucket"
        raise BadInput(f"{uri}: {missing}; fix the path in the record (or AWS_ENDPOINT_URL, if it points at "
                       "the wrong store)") from None


def local_path(path_or_uri: Any) -> str:
    """A local file with the artifact's bytes: a path as it is (checks are the caller's); an object fetched
    into the cache under its hash (sha256 the toolkit stored, else its ETag), so it is downloaded once."""
    from . import storage

    text = "" if path_or_uri is None else str(path_or_uri)
    if not storage.is_uri(text):
        return text
    store, key, found = _found(text)
    cached = _cache_path(found.get("sha256") or f"etag-{found.get('etag')}", key.rsplit("/", 1)[-1])
    if not cached.is_file():
        with atomic_output(cached) as temp:
            store.get(key, str(temp))
    return str(cached)


def with_local_files(record: dict, *fields: str) -> dict:
    """A copy of RECORD whose files at FIELDS ("video.path", "captions.srt") are local paths, fetched once
    into the cache: for code that hands files to other libraries by name. RECORD itself keeps its URIs."""
    copy = dict(record)
    for field in fields:
        key, _, name = field.partition(".")
        value = copy.get(key)
        if isinstance(value, dict) and isinstance(value.get(name), str):
            copy[key] = {**value, name: local_path(value[name])}
    return copy


def size_and_sha256(path_or_uri: Any) -> tuple[int, str]:
    """(bytes, sha256) of a file, or of an object without fetching it: the sha256 the toolkit stored with
    it, else one streamed pass (nothing kept on disk)."""
    from . import storage

    text = str(path_or_uri)
    if not storage.is_uri(text):
        return os.path.getsize(text), file_sha256(text)
    store, key, found = _found(text)
    if found.get("sha256"):
        return int(found["size"]), str(found["sha256"])
    stream = store.open(key)
    try:
        return int(found["size"]), stream_sha256(stream)
    finally:
        stream.close()


def open_seekable(path_or_uri: Any, block: int = 8 << 20) -> IO[bytes]:
    """A seekable binary reader over a file, or over an object by ranged reads of BLOCK bytes: an upload
    sends a video from the store chunk by chunk, resuming anywhere, with no local copy."""
    from . import storage

    text = str(path_or_uri)
    if not storage.is_uri(text):
        return open(text, "rb")
    store, key, found = _found(text)
    return io.BufferedReader(_Ranges(store, key, int(found["size"])), buffer_size=block)


def media_locator(path_or_uri: Any) -> str:
    """What ffprobe/ffmpeg should open for a file or an object (a signed URL it reads with range requests)."""
    from . import storage

    text = str(path_or_uri)
    if not storage.is_uri(text):
        return text
    store, key = _store_of(text)
    return store.locator(key)


class _Ranges(io.RawIOBase):
    """The object KEY as a raw seekable stream; BufferedReader above it turns small reads into big ranges."""

    def __init__(self, store: Any, key: str, size: int):
        self.store, self.key, self.size, self.at = store, key, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self.at, os.SEEK_END: self.size}[whence]
        self.at = max(0, base + offset)
        return self.at

    def tell(self) -> int:
        return self.at

    def readinto(self, buffer) -> int:
        want = min(len(buffer), self.size - self.at)
        if want <= 0:
            return 0
        data = self.store.read(self.key, self.at, want)
        buffer[:len(data)] = data
        self.at += len(data)
        return len(data)


def _cache_path(digest: str, name: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in digest)[:80]
    return cache_dir() / "objects" / safe[:2] / safe / name


def _into_cache(local: Path, sha: str) -> None:
    """The file just published is already here: link it into the cache so reading its URI fetches nothing."""
    cached = _cache_path(sha, local.name)
    if cached.is_file():
        return
    cached.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(local, cached)
    except FileExistsError:
        pass
    except OSError:  # another file system: a copy, renamed into place
        import shutil

        with atomic_output(cached) as temp:
            shutil.copyfile(local, temp)
