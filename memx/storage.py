"""One storage layer over a local path and `s3://bucket/prefix`.

Data streams (Parquet in and out) go through pyarrow.fs; the one operation where S3
semantics matter, creating a manifest only if it is absent, goes through boto3 with
`If-None-Match: *` (locally: an exclusive hard link of a fully written temp file).
Credentials come only from the usual AWS chain (env, profile, role); this module never
reads, stores or prints them. Transient errors are retried a bounded number of times
with exponential backoff, then `StorageUnavailable` names the endpoint.

It knows nothing of shards, manifests' content or Parquet schemas: only bytes and keys.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

import pyarrow.fs as pafs

from memx.errors import ConfigError, StorageUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_ATTEMPTS = int(os.environ.get("MEMX_STORAGE_ATTEMPTS", "5"))
RETRY_BASE_SECONDS = float(os.environ.get("MEMX_STORAGE_BACKOFF", "0.5"))

_TRANSIENT_MARKERS = (
    "connection refused", "could not connect", "connection reset", "timed out", "timeout",
    "curl", "broken pipe", "service unavailable", "slow down", "slowdown", "internal error",
    "connect to endpoint", "endpoint", "503", "500", "502", "504", "network",
)


def _is_transient(error: BaseException) -> bool:
    try:
        import botocore.exceptions as bce

        if isinstance(error, (bce.EndpointConnectionError, bce.ConnectionClosedError, bce.ReadTimeoutError,
                              bce.ConnectTimeoutError)):
            return True
        if isinstance(error, bce.ClientError):
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            return status >= 500 or error.response.get("Error", {}).get("Code") in ("SlowDown", "RequestTimeout")
    except ImportError:  # boto3 is a hard dependency; this only guards odd installs
        pass
    if isinstance(error, (FileNotFoundError, PermissionError, IsADirectoryError)):
        return False
    text = str(error).lower()
    return isinstance(error, (OSError, ConnectionError)) and any(m in text for m in _TRANSIENT_MARKERS)


class Storage:
    """Keys are '/'-separated paths relative to `root` (a local dir or s3://bucket/prefix)."""

    def __init__(self, root: str, endpoint_url: str | None = None, region: str | None = None):
        self.root = root.rstrip("/")
        self.endpoint_url = endpoint_url
        self.is_s3 = self.root.startswith("s3://")
        if self.is_s3:
            bucket_and_prefix = self.root[len("s3://"):]
            if not bucket_and_prefix:
                raise ConfigError(f"output: {root!r} names no bucket")
            self.bucket, _, self.prefix = bucket_and_prefix.partition("/")
            self.fs = _s3_filesystem(endpoint_url, region)
            self._base = f"{self.bucket}/{self.prefix}".rstrip("/")
            self._boto = None
            self._region = region
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

    def child(self, key: str) -> "Storage":
        sub = Storage.__new__(Storage)
        sub.__dict__.update(self.__dict__)
        sub.root, sub._base = f"{self.root}/{key}", self.path(key)
        if self.is_s3:
            sub.prefix = f"{self.prefix}/{key}".strip("/")
        return sub

    # -- retries ------------------------------------------------------------
    def retry(self, what: str, fn: Callable[[], T]) -> T:
        delay = RETRY_BASE_SECONDS
        for attempt in range(1, RETRY_ATTEMPTS + 1):
            try:
                return fn()
            except Exception as error:  # classified just below; non-transient errors propagate unchanged
                if not _is_transient(error):
                    raise
                if attempt == RETRY_ATTEMPTS:
                    raise StorageUnavailable(
                        f"storage at {self.where()} unreachable while trying to {what} "
                        f"({RETRY_ATTEMPTS} attempts): {str(error).splitlines()[0][:200]}; "
                        f"when it is back, run `memx resume {self.root}`"
                    ) from None
                log.warning("storage: %s failed (attempt %d/%d), retrying in %.1fs", what, attempt, RETRY_ATTEMPTS, delay)
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    # -- bytes --------------------------------------------------------------
    def exists(self, key: str) -> bool:
        info = self.retry(f"stat {key}", lambda: self.fs.get_file_info(self.path(key)))
        return info.type == pafs.FileType.File

    def size(self, key: str) -> int | None:
        info = self.retry(f"stat {key}", lambda: self.fs.get_file_info(self.path(key)))
        return info.size if info.type == pafs.FileType.File else None

    def read_bytes(self, key: str) -> bytes:
        def read() -> bytes:
            with self.fs.open_input_stream(self.path(key)) as stream:
                return stream.read()

        return self.retry(f"read {key}", read)

    def list(self, prefix: str, suffix: str = "") -> list[str]:
        """Keys (relative to root) of the files below `prefix`, sorted; [] when the prefix is absent."""
        selector = pafs.FileSelector(self.path(prefix), recursive=True, allow_not_found=True)
        infos = self.retry(f"list {prefix}", lambda: self.fs.get_file_info(selector))
        base = len(self._base) + 1
        return sorted(i.path[base:] for i in infos if i.type == pafs.FileType.File and i.path.endswith(suffix))

    def delete(self, key: str) -> None:
        self.retry(f"delete {key}", lambda: self.fs.delete_file(self.path(key)))

    def write_bytes(self, key: str, data: bytes) -> None:
        with self.open_output(key) as out:
            out.write(data)

    def open_input_file(self, key: str) -> pafs.NativeFile:
        return self.retry(f"open {key}", lambda: self.fs.open_input_file(self.path(key)))

    @contextmanager
    def open_output(self, key: str) -> Iterator:
        """A stream whose object appears at `key` only when the block exits without error.

        S3: a multipart upload completed on close. Local: a hidden temp file renamed into place.
        """
        if self.is_s3:
            from memx.s3upload import S3Upload

            stream = S3Upload(self, f"{self.prefix}/{key}".lstrip("/"), key)
            try:
                yield stream
            except BaseException:
                stream.abort()
                raise
            stream.finish()
            return
        final = self.path(key)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        temp = os.path.join(os.path.dirname(final), f".{os.path.basename(final)}.{uuid.uuid4().hex}.tmp")
        try:
            with open(temp, "wb") as stream:
                yield stream
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temp, final)
        finally:
            if os.path.exists(temp):
                os.unlink(temp)

    def create_if_absent(self, key: str, data: bytes) -> bool:
        """Create `key` with `data` only if no object is there; True if this call created it.

        Atomic on both backends: S3 `If-None-Match: *`, locally a hard link of a complete temp file.
        """
        if self.is_s3:
            return self._s3_create_if_absent(key, data)
        final = self.path(key)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        temp = os.path.join(os.path.dirname(final), f".{os.path.basename(final)}.{uuid.uuid4().hex}.tmp")
        with open(temp, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        try:
            os.link(temp, final)
            return True
        except FileExistsError:
            return False
        finally:
            os.unlink(temp)

    def _s3_create_if_absent(self, key: str, data: bytes) -> bool:
        import botocore.exceptions as bce

        object_key = f"{self.prefix}/{key}".lstrip("/")

        def put() -> bool:
            try:
                self._client().put_object(Bucket=self.bucket, Key=object_key, Body=data, IfNoneMatch="*")
                return True
            except bce.ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                if code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412):
                    return False
                raise

        return self.retry(f"create {key}", put)

    def _client(self):
        if self._boto is None:
            import boto3
            from botocore.config import Config as BotoConfig

            # Retries are ours (bounded, with a clear final error), so botocore's own are kept minimal.
            self._boto = boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self._region or "us-east-1",
                                      config=BotoConfig(retries={"max_attempts": 1, "mode": "standard"},
                                                        connect_timeout=5, read_timeout=30))
        return self._boto

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_boto"] = None  # boto clients do not pickle; each process makes its own
        return state


def _s3_filesystem(endpoint_url: str | None, region: str | None) -> pafs.S3FileSystem:
    kwargs: dict = {"region": region or "us-east-1",
                    "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=2),
                    "connect_timeout": 5, "request_timeout": 30}
    if endpoint_url:
        scheme, _, host = endpoint_url.partition("://")
        kwargs.update(endpoint_override=host.rstrip("/"), scheme=scheme, force_virtual_addressing=False)
    return pafs.S3FileSystem(**kwargs)


def open_storage(uri: str, endpoint_url: str | None = None, region: str | None = None) -> Storage:
    return Storage(uri, endpoint_url=endpoint_url, region=region)


def run_storage(config) -> Storage:
    """The Storage rooted at `{output}/{run_id}` of a `memx.config.Config`."""
    return Storage(config.run_uri, endpoint_url=config.storage.endpoint_url, region=config.storage.region)
