"""One storage layer over a local path and `s3://bucket/prefix`.

Data streams (Parquet in and out) go through pyarrow.fs; writes to S3 and the one
operation where S3 semantics matter, creating a manifest only if it is absent, go
through boto3 (`memx.s3`; locally: an exclusive hard link of a complete temp file).
Credentials come only from the usual AWS chain (env, profile, role); this module never
reads, stores or prints them.

Retries are the libraries': botocore's "standard" retry mode and pyarrow's
`AwsStandardS3RetryStrategy`, both bounded by MEMX_STORAGE_ATTEMPTS tries per request,
with their own backoff and jitter (MEMX_STORAGE_BACKOFF is no longer read). What is left
here is naming the failure: an error whose type means "the store is unreachable or
overloaded", still there after those retries, becomes `StorageUnavailable` naming the
endpoint and `memx resume`. Local filesystem errors are never retried nor renamed.
Local writes are write-temp-then-rename, written once: `atomic_local_file`.

It knows nothing of shards, manifests' content or Parquet schemas: only bytes and keys.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from typing import IO, Callable, Iterator, TypeVar

import pyarrow.fs as pafs

from memx.errors import ConfigError, StorageUnavailable
from memx.s3 import S3Upload, boto_client, put_if_absent, s3_filesystem

T = TypeVar("T")

ATTEMPTS_ENV = "MEMX_STORAGE_ATTEMPTS"
DEFAULT_ATTEMPTS = 5
# Errors pyarrow raises about a path, not about the store: they mean what they say at once.
_PATH_ERRORS = (FileNotFoundError, FileExistsError, PermissionError, IsADirectoryError, NotADirectoryError)


def storage_attempts() -> int:
    """Tries per S3 request, the first included, for botocore and pyarrow alike."""
    raw = os.environ.get(ATTEMPTS_ENV, str(DEFAULT_ATTEMPTS))
    if not raw.strip().isdigit() or int(raw) < 1:
        raise ConfigError(f"{ATTEMPTS_ENV}={raw!r}: expected a whole number of tries, 1 or more")
    return int(raw)


def is_store_trouble(error: BaseException) -> bool:
    """True when the error's type says the object store is unreachable or overloaded.

    Asked only after the library's own bounded retries, and only of S3 calls.
    """
    import botocore.exceptions as bce

    if isinstance(error, (bce.EndpointConnectionError, bce.ConnectTimeoutError, bce.ReadTimeoutError,
                          bce.ConnectionClosedError)):
        return True
    if isinstance(error, bce.ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status >= 500 or error.response.get("Error", {}).get("Code") in ("SlowDown", "RequestTimeout")
    # pyarrow types what it knows about a path (missing key: FileNotFoundError) and sets errno
    # when the local OS refused (a full disk under copy_files); a failure of the S3 service or
    # the network reaches Python as a plain OSError without errno.
    return isinstance(error, OSError) and not isinstance(error, _PATH_ERRORS) and error.errno is None


# -- local atomic writes ------------------------------------------------------
def fsync_dir(directory: str) -> None:
    """Make renames and links inside `directory` survive a power cut."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _published(path: str, mode: str, encoding: str | None, publish: Callable[[str, str], None]) -> Iterator[IO]:
    """Write a hidden temp file beside `path`; once complete and fsynced, `publish(temp, path)`.

    The temp file is removed at exit whatever happened (after a rename it is already gone).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic write mode must be 'wb' or 'w', not {mode!r}")
    directory, name = os.path.split(os.path.abspath(path))
    temp = os.path.join(directory, f".{name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temp, mode.replace("w", "x"), encoding=encoding or (None if "b" in mode else "utf-8")) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        publish(temp, path)
        fsync_dir(directory)
    finally:
        if os.path.lexists(temp):
            os.unlink(temp)


def atomic_local_file(path: str, mode: str = "wb", encoding: str | None = None):
    """A context manager: a stream whose file appears at `path`, complete, only when the
    block exits without error (temp file beside it, fsync, os.replace); on any failure
    `path` is untouched. The directory must exist: a missing one is the caller's to report."""
    return _published(path, mode, encoding, os.replace)


def link_if_absent(path: str, data: bytes) -> bool:
    """Create `path` holding `data` only if nothing is there; True if this call created it.

    The file is complete before an exclusive hard link publishes it: a reader never sees
    part of it, and of two racing writers exactly one wins.
    """
    try:
        with _published(path, "wb", None, os.link) as stream:
            stream.write(data)
        return True
    except FileExistsError:  # os.link: someone else's file is there
        return False


class Storage:
    """Keys are '/'-separated paths relative to `root` (a local dir or s3://bucket/prefix)."""

    def __init__(self, root: str, endpoint_url: str | None = None, region: str | None = None):
        self.root = root.rstrip("/")
        self.endpoint_url = endpoint_url
        self.region = region
        self.is_s3 = self.root.startswith("s3://")
        # What the user should do once a down store is back; a Storage that is not a run's
        # (an index being synced) says something else.
        self.when_back = f"run `memx resume {self.root}`"
        if self.is_s3:
            bucket_and_prefix = self.root[len("s3://"):]
            if not bucket_and_prefix:
                raise ConfigError(f"output: {root!r} names no bucket")
            self.bucket, _, self.prefix = bucket_and_prefix.partition("/")
            self.attempts = storage_attempts()
            self.fs = s3_filesystem(endpoint_url, region, self.attempts)
            self._base = f"{self.bucket}/{self.prefix}".rstrip("/")
            self._boto = None
        elif "://" in self.root:
            raise ConfigError(f"output: unsupported URI scheme in {root!r} (use a local path or s3://)")
        else:
            self.fs = pafs.LocalFileSystem()
            self._base = os.path.abspath(self.root)

    # -- naming -------------------------------------------------------------
    def where(self) -> str:
        return f"{self.endpoint_url or 'AWS S3'} ({self.root})" if self.is_s3 else self.root

    def path(self, key: str) -> str:
        return f"{self._base}/{key.lstrip('/')}" if key else self._base

    def uri(self, key: str) -> str:
        return f"{self.root}/{key}"

    # -- failures -----------------------------------------------------------
    def call(self, what: str, fn: Callable[[], T]) -> T:
        """fn(), an S3 or local call; store trouble left after the library's retries becomes
        StorageUnavailable, every other error propagates unchanged."""
        try:
            return fn()
        except Exception as error:
            if not (self.is_s3 and is_store_trouble(error)):
                raise
            detail = (str(error).splitlines() or [type(error).__name__])[0][:200]
            raise StorageUnavailable(
                f"storage at {self.where()} unreachable while trying to {what} "
                f"({self.attempts} attempts): {detail}; when it is back, {self.when_back}"
            ) from None

    # -- bytes --------------------------------------------------------------
    def exists(self, key: str) -> bool:
        info = self.call(f"stat {key}", lambda: self.fs.get_file_info(self.path(key)))
        return info.type == pafs.FileType.File

    def size(self, key: str) -> int | None:
        info = self.call(f"stat {key}", lambda: self.fs.get_file_info(self.path(key)))
        return info.size if info.type == pafs.FileType.File else None

    def read_bytes(self, key: str) -> bytes:
        def read() -> bytes:
            with self.fs.open_input_stream(self.path(key)) as stream:
                return stream.read()

        return self.call(f"read {key}", read)

    def sizes(self, prefix: str = "") -> dict[str, int]:
        """{key: bytes} of the files below `prefix` (keys relative to root); {} when it is absent."""
        selector = pafs.FileSelector(self.path(prefix), recursive=True, allow_not_found=True)
        infos = self.call(f"list {prefix or self.root}", lambda: self.fs.get_file_info(selector))
        base = len(self._base) + 1
        return {i.path[base:]: i.size for i in infos if i.type == pafs.FileType.File}

    def list(self, prefix: str, suffix: str = "") -> list[str]:
        """Keys (relative to root) of the files below `prefix`, sorted; [] when the prefix is absent."""
        return sorted(key for key in self.sizes(prefix) if key.endswith(suffix))

    def delete(self, key: str) -> None:
        self.call(f"delete {key}", lambda: self.fs.delete_file(self.path(key)))

    def write_bytes(self, key: str, data: bytes) -> None:
        with self.open_output(key) as out:
            out.write(data)

    def open_input_file(self, key: str) -> pafs.NativeFile:
        return self.call(f"open {key}", lambda: self.fs.open_input_file(self.path(key)))

    @contextmanager
    def open_output(self, key: str) -> Iterator:
        """A stream whose object appears at `key` only when the block exits without error.

        S3: a multipart upload completed on close. Local: `atomic_local_file`.
        """
        if self.is_s3:
            stream = S3Upload(self._client(), self.bucket, f"{self.prefix}/{key}".lstrip("/"), key, self.call)
            try:
                yield stream
            except BaseException:
                stream.abort()
                raise
            stream.finish()
            return
        final = self.path(key)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        with atomic_local_file(final) as stream:
            yield stream

    def create_if_absent(self, key: str, data: bytes) -> bool:
        """Create `key` with `data` only if no object is there; True if this call created it.

        Atomic on both backends: S3 `If-None-Match: *`, locally `link_if_absent`.
        """
        if self.is_s3:
            return self._s3_create_if_absent(key, data)
        final = self.path(key)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        return link_if_absent(final, data)

    def _s3_create_if_absent(self, key: str, data: bytes) -> bool:
        object_key = f"{self.prefix}/{key}".lstrip("/")
        return self.call(f"create {key}", lambda: put_if_absent(self._client(), self.bucket, object_key, data))

    def _client(self):
        if self._boto is None:
            self._boto = boto_client(self.endpoint_url, self.region, self.attempts)
        return self._boto

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        if self.is_s3:
            # Neither pickles whole: boto clients not at all, and a pickled S3FileSystem
            # loses its retry strategy and timeouts. Each process rebuilds both.
            state["_boto"] = state["fs"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self.is_s3:
            self.fs = s3_filesystem(self.endpoint_url, self.region, self.attempts)
