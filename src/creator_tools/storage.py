"""Storage engines for artifacts: where `CS_OUT_DIR` points. `local` is a folder (on a cluster, a shared
mount); `s3` is any S3-compatible store (AWS S3, MinIO, R2) configured by boto3's usual environment
(AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION). Other packages add
schemes through the entry point group `creator_tools.storage` (name = URL scheme).

A store holds immutable objects named by their inputs (artifacts.py names them), so the only write is a
put-if-absent: two workers racing on one record store one object, and both succeed."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import IO, Any

from .core.once import Once
from .errors import BadInput, ConfigError, EngineError

GROUP = "creator_tools.storage"
BUILTINS = {"local": "creator_tools.storage:LocalStore", "s3": "creator_tools.storage:S3Store"}
HINT = "CS_OUT_DIR is a folder or s3://bucket/prefix"


class Store(ABC):
    """One bucket (or folder). Keys are '/'-separated names inside it."""

    @abstractmethod
    def uri(self, key: str) -> str:
        """How records name the object."""

    @abstractmethod
    def head(self, key: str) -> dict[str, Any] | None:
        """{size, sha256, etag} of the object, or None when there is none."""

    @abstractmethod
    def put_if_absent(self, local: str, key: str, sha256: str) -> bool:
        """Store LOCAL as KEY unless KEY exists; True when this call stored it."""

    @abstractmethod
    def get(self, key: str, local: str) -> None:
        """Copy the object to the local path (which the caller renames into place)."""

    @abstractmethod
    def open(self, key: str) -> IO[bytes]:
        """A binary stream over the object, read as it arrives (never a full local copy)."""

    @abstractmethod
    def read(self, key: str, start: int, length: int) -> bytes:
        """LENGTH bytes of the object from START (fewer at its end): one ranged request."""

    @abstractmethod
    def locator(self, key: str) -> str:
        """A name ffmpeg can read the object by, seeking as it likes (a path, or a short-lived signed URL)."""


class LocalStore(Store):
    """A folder: keys are relative paths. put-if-absent is a hard link, which fails when the name exists."""

    def __init__(self, root: str):
        self.root = root

    def path(self, key: str) -> str:
        return os.path.join(self.root, *key.split("/"))

    def uri(self, key: str) -> str:
        return self.path(key)

    def head(self, key: str) -> dict[str, Any] | None:
        try:
            stat = os.stat(self.path(key))
        except OSError:
            return None
        return {"size": stat.st_size, "sha256": None, "etag": f"{stat.st_ino}-{stat.st_size}-{stat.st_mtime_ns}"}

    def put_if_absent(self, local: str, key: str, sha256: str) -> bool:
        target = self.path(key)
        if os.path.abspath(local) == os.path.abspath(target):
            return True
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            os.link(local, target)
        except FileExistsError:
            return False
        except OSError:  # another file system: copy beside it, then publish the finished copy if still absent
            import shutil

            from .core import files

            with files.atomic_publish(target, replace=False) as out:
                shutil.copyfile(local, out.temp)
            return out.won
        return True

    def get(self, key: str, local: str) -> None:
        import shutil

        shutil.copyfile(self.path(key), local)

    def open(self, key: str) -> IO[bytes]:
        return open(self.path(key), "rb")

    def read(self, key: str, start: int, length: int) -> bytes:
        with open(self.path(key), "rb") as handle:
            handle.seek(start)
            return handle.read(length)

    def locator(self, key: str) -> str:
        return self.path(key)


class S3Store(Store):
    """One bucket of an S3-compatible store, through boto3 (imported on first use)."""

    def __init__(self, bucket: str):
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        # retries in "standard" mode cover throttling and dropped connections; a wrong key fails at once
        config = Config(retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=10, read_timeout=60)
        from botocore import exceptions as bx

        try:
            self.client = boto3.session.Session().client("s3", config=config)
        except bx.ProfileNotFound as exc:
            raise ConfigError(f"{exc}; fix AWS_PROFILE or unset it") from None
        except bx.BotoCoreError as exc:
            raise ConfigError(f"cannot set up the S3 client ({exc}); check AWS_DEFAULT_REGION and AWS_ENDPOINT_URL") from None

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def head(self, key: str) -> dict[str, Any] | None:
        try:
            found = self._call("head_object", key, Bucket=self.bucket, Key=key)
        except _Missing:
            return None
        return {"size": found.get("ContentLength"), "sha256": (found.get("Metadata") or {}).get("sha256"),
                "etag": str(found.get("ETag") or "").strip('"')}

    def put_if_absent(self, local: str, key: str, sha256: str) -> bool:
        if self.head(key) is not None:  # a re-run sends no bytes
            return False
        with open(local, "rb") as body:
            try:
                self._call("put_object", key, Bucket=self.bucket, Key=key, Body=body, IfNoneMatch="*",
                           Metadata={"sha256": sha256})
            except _Conflict:
                return False  # another worker stored it between our head and our put
            except _Unsupported:
                # A store without conditional writes: the head above is the check (a narrow race remains,
                # and both racers write the same name from the same inputs).
                body.seek(0)
                self._call("put_object", key, Bucket=self.bucket, Key=key, Body=body, Metadata={"sha256": sha256})
        return True

    def get(self, key: str, local: str) -> None:
        import shutil

        with open(local, "wb") as out:
            stream = self.open(key)
            try:
                shutil.copyfileobj(stream, out, 1 << 20)
            finally:
                stream.close()

    def open(self, key: str) -> IO[bytes]:
        try:
            return self._call("get_object", key, Bucket=self.bucket, Key=key)["Body"]
        except _Missing:
            raise BadInput(f"{self.uri(key)}: no such object; re-run the stage that made it") from None

    def read(self, key: str, start: int, length: int) -> bytes:
        try:
            found = self._call("get_object", key, Bucket=self.bucket, Key=key, Range=f"bytes={start}-{start + length - 1}")
        except _Missing:
            raise BadInput(f"{self.uri(key)}: no such object; re-run the stage that made it") from None
        body = found["Body"]
        try:
            return body.read()
        finally:
            body.close()

    def locator(self, key: str) -> str:
        return self.client.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": key},
                                                  ExpiresIn=3600)

    def _call(self, method: str, key: str, **params) -> dict:
        """One boto3 call, its errors translated into the toolkit's (one line naming what to fix)."""
        from botocore import exceptions as bx

        try:
            return getattr(self.client, method)(**params)
        except bx.NoCredentialsError:
            raise ConfigError("no S3 credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") from None
        except (bx.EndpointConnectionError, bx.ConnectTimeoutError) as exc:
            raise ConfigError(f"cannot reach the S3 endpoint ({exc}); check AWS_ENDPOINT_URL") from None
        except bx.ClientError as exc:
            raise _translate(exc, self.bucket, key, method) from None
        except bx.ParamValidationError:
            if "IfNoneMatch" in params:  # boto3 before 1.35 has no conditional writes: head-then-put
                raise _Unsupported() from None
            raise
        except bx.BotoCoreError as exc:
            raise EngineError(f"S3 {method} {self.uri(key)} failed: {exc}; check AWS_ENDPOINT_URL and the "
                              "network", retryable=True) from None


class _Missing(Exception):
    pass


class _Conflict(Exception):
    pass


class _Unsupported(Exception):
    pass


_BAD_KEY = {"InvalidAccessKeyId", "UnrecognizedClientException", "InvalidClientTokenId", "AuthorizationHeaderMalformed"}
_BAD_SECRET = {"SignatureDoesNotMatch"}


class NoBucket(ConfigError):
    """The bucket is not in the store (or the location names none). For CS_OUT_DIR a configuration error; artifacts.py makes it the
    record's own error when the URI came from a record."""

    def __init__(self, bucket: str, message: str = ""):
        super().__init__(message or f"bucket '{bucket}' does not exist; create it or fix the bucket in CS_OUT_DIR "
                         "(or AWS_ENDPOINT_URL, if it points at the wrong store)")
        self.bucket = bucket  # "" when the location names none

    @property
    def type(self) -> str:
        return "ConfigError"  # what error records and their readers know


def _translate(exc: Any, bucket: str, key: str, method: str) -> Exception:
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code == "NoSuchBucket":
        return NoBucket(bucket)
    if method == "put_object" and (code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412)):
        return _Conflict()
    if code in ("NotImplemented", "InvalidArgument") and method == "put_object" and status in (400, 501):
        return _Unsupported()
    if code in _BAD_KEY:
        return ConfigError(f"the S3 store does not know this access key; fix AWS_ACCESS_KEY_ID ({code})")
    if code in _BAD_SECRET:
        return ConfigError(f"the S3 store rejected the request signature; fix AWS_SECRET_ACCESS_KEY ({code})")
    if code in ("AccessDenied", "Forbidden", "403"):
        # head_object answers a bare 403 without a code body: a bad key, or a key without rights here
        return ConfigError(f"access to s3://{bucket}/ denied; fix AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or "
                           "the key's permissions on the bucket in CS_OUT_DIR")
    if code in ("NoSuchKey", "404", "NotFound"):  # a head cannot tell a missing bucket: get_store asked once
        return _Missing()
    return EngineError(f"S3 {method} s3://{bucket}/{key} failed: {code or status} {error.get('Message') or ''}".rstrip()
                       + "; retry later", retryable=True)


# --- the registry ---------------------------------------------------------------------------------------

_stores = Once()  # (scheme, bucket) -> Store, one per process (boto3 clients are thread-safe)


def split(location: str) -> tuple[str, str, str]:
    """(scheme, bucket or folder, key prefix) of a CS_OUT_DIR value or an object URI."""
    scheme, sep, rest = location.partition("://")
    if not sep:
        return "local", location, ""
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise NoBucket("", f"'{location}' names no bucket; set CS_OUT_DIR to {scheme}://BUCKET/PREFIX")
    return scheme, bucket, prefix.strip("/")


def is_uri(value: Any) -> bool:
    return isinstance(value, str) and "://" in value and not value.startswith("file://")


def get_store(scheme: str, bucket: str) -> Store:
    """The store engine for SCHEME holding BUCKET, one per process (boto3 clients are thread-safe)."""
    return _stores.get((scheme, bucket), lambda: _new_store(scheme, bucket))


def _new_store(scheme: str, bucket: str) -> Store:
    """A store whose bucket answered; one that failed the check is not kept (the bucket may be made)."""
    from .engines import load

    store = load(GROUP, BUILTINS, scheme, HINT)(bucket)
    if scheme != "local":
        _check_bucket(store, bucket)
    return store


def _check_bucket(store: Store, bucket: str) -> None:
    """A missing bucket answers a head as a missing object; ask the bucket once so the message says so."""
    call = getattr(store, "_call", None)
    if call is None:
        return
    try:
        call("list_objects_v2", "", Bucket=bucket, MaxKeys=1)  # as head_bucket, but errors come with a code
    except _Missing:
        raise NoBucket(bucket) from None
