"""What memx says to S3, below `memx.storage.Storage`: the two clients (boto3 for writes and
conditional creates, pyarrow.fs for data streams) with their timeouts and bounded retries,
conditional create, and streaming writes of one object that can be abandoned without
publishing anything.

pyarrow's S3 output stream has no abort: closing it, even from a destructor after an
error, publishes a partial object. `S3Upload` sends multipart parts as data arrives,
completes the upload only on `finish()`, and `abort()` leaves nothing visible.
Retries are botocore's ("standard" mode) and pyarrow's `AwsStandardS3RetryStrategy`,
`attempts` tries per request; the caller's `call` (Storage.call) turns what is left of a
store outage into StorageUnavailable. This module knows nothing of keys' meaning nor of
the Storage that uses it: it is handed a client, a bucket and that `call`.
"""

from __future__ import annotations

import logging
from typing import Callable, TypeVar

import pyarrow.fs as pafs

T = TypeVar("T")
Call = Callable[[str, Callable[[], T]], T]

log = logging.getLogger("memx.storage")

CONNECT_TIMEOUT_S, READ_TIMEOUT_S = 5, 30  # seconds, for botocore and pyarrow alike


def boto_client(endpoint_url: str | None, region: str | None, attempts: int):
    """An S3 client whose retries are botocore's, `attempts` tries per request at most."""
    import boto3
    from botocore.config import Config

    # "standard" rather than "adaptive": adaptive's client-side rate limiter is documented
    # as experimental, and each actor has a client of its own to throttle anyway.
    config = Config(retries={"mode": "standard", "total_max_attempts": attempts},
                    connect_timeout=CONNECT_TIMEOUT_S, read_timeout=READ_TIMEOUT_S)
    # a session of its own: boto3's default session keeps the first credentials it resolved for
    # the life of the process, so a driver (a notebook, a test session) whose environment changed
    # would go on signing with keys it no longer holds
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, region_name=region or "us-east-1",
                                          config=config)


def s3_filesystem(endpoint_url: str | None, region: str | None, attempts: int) -> pafs.S3FileSystem:
    """pyarrow's S3 filesystem with the same timeouts and tries as `boto_client`."""
    kwargs: dict = {"region": region or "us-east-1",
                    "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=attempts),
                    "connect_timeout": CONNECT_TIMEOUT_S, "request_timeout": READ_TIMEOUT_S}
    if endpoint_url:
        scheme, _, host = endpoint_url.partition("://")
        kwargs.update(endpoint_override=host.rstrip("/"), scheme=scheme, force_virtual_addressing=False)
    return pafs.S3FileSystem(**kwargs)


def put_if_absent(client, bucket: str, object_key: str, data: bytes) -> bool:
    """PUT with `If-None-Match: *`: True if this call created the object, False if one was there."""
    import botocore.exceptions as bce

    try:
        client.put_object(Bucket=bucket, Key=object_key, Body=data, IfNoneMatch="*")
        return True
    except bce.ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412):
            return False
        raise


class S3Upload:
    """A write stream to one S3 object: parts of PART_BYTES (S3's minimum part is 5 MiB).
    `key` names the object in messages; `call(what, fn)` runs each request."""

    PART_BYTES = 16 * 1024 * 1024

    def __init__(self, client, bucket: str, object_key: str, key: str, call: Call):
        self._client, self._bucket, self._object_key, self._key, self._call = client, bucket, object_key, key, call
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict] = []

    def write(self, data) -> int:
        self._buffer += data
        if len(self._buffer) >= self.PART_BYTES:
            self._send_part()
        return len(data)

    def _send_part(self) -> None:
        client, bucket = self._client, self._bucket
        if self._upload_id is None:
            created = self._call(f"start upload of {self._key}", lambda: client.create_multipart_upload(
                Bucket=bucket, Key=self._object_key))
            self._upload_id = created["UploadId"]
        number, body = len(self._parts) + 1, bytes(self._buffer)
        part = self._call(f"upload part {number} of {self._key}", lambda: client.upload_part(
            Bucket=bucket, Key=self._object_key, UploadId=self._upload_id, PartNumber=number, Body=body))
        self._parts.append({"PartNumber": number, "ETag": part["ETag"]})
        self._buffer.clear()

    def finish(self) -> None:
        client, bucket = self._client, self._bucket
        if self._upload_id is None:
            body = bytes(self._buffer)
            self._call(f"write {self._key}", lambda: client.put_object(
                Bucket=bucket, Key=self._object_key, Body=body))
            return
        if self._buffer:
            self._send_part()
        self._call(f"finish upload of {self._key}", lambda: client.complete_multipart_upload(
            Bucket=bucket, Key=self._object_key, UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts}))

    def abort(self) -> None:
        if self._upload_id is None:
            return
        try:
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=self._object_key, UploadId=self._upload_id)
        except Exception as error:  # the upload stays invisible either way; only its parts linger
            log.warning("storage: could not abort upload of %s: %s", self._key, error)
