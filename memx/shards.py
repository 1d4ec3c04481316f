"""Named shards on storage: streaming Parquet writes, manifests, committed-shard reads.

A shard's data lives at `{stage}/{strategy}/shard-NNNNN.parquet`; it exists for readers
only once `_manifest/{stage}/{strategy}/shard-NNNNN.json` does. The manifest is written
last and created only if absent, so a resubmitted or retried shard can never be committed
twice, and a data file without a manifest (a crash between the two writes) is invisible
and simply redone. The manifest's checksum covers the bytes as they were streamed.

This module knows the layout of docs/outputs.md, not what is inside a shard or who writes it.
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from memx.plan import ShardSpec
from memx.storage import Storage

MANIFEST_ROOT = "_manifest"
FAILURE_ROOT = "_failed"


def data_key(spec: ShardSpec) -> str:
    return f"{spec.stage}/{spec.strategy}/{spec.name}.parquet"


def manifest_key(spec: ShardSpec) -> str:
    return f"{MANIFEST_ROOT}/{spec.stage}/{spec.strategy}/{spec.name}.json"


def failure_key(spec: ShardSpec) -> str:
    return f"{FAILURE_ROOT}/{spec.stage}/{spec.strategy}/{spec.name}.json"


class _HashingSink:
    """A write-only file object that hashes and counts bytes on their way to the real stream."""

    def __init__(self, stream):
        self._stream, self.sha256, self.nbytes, self.closed = stream, hashlib.sha256(), 0, False

    def write(self, data) -> int:
        view = memoryview(data)
        self.sha256.update(view)
        self.nbytes += view.nbytes
        self._stream.write(view)
        return view.nbytes

    def flush(self) -> None:
        pass

    def close(self) -> None:  # the owning context manager closes the real stream
        self.closed = True

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.nbytes


@dataclass
class WrittenShard:
    rows: int
    nbytes: int
    sha256: str
    seconds: float
    extra: dict = field(default_factory=dict)


def write_shard(storage: Storage, spec: ShardSpec, schema: pa.Schema, batches) -> WrittenShard:
    """Stream `batches` (an iterable of RecordBatch/Table) as row groups to the shard's data key."""
    started = time.time()
    rows = 0
    with storage.open_output(data_key(spec)) as stream:
        sink = _HashingSink(stream)
        with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
            for batch in batches:
                table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
                writer.write_table(table.cast(schema))
                rows += table.num_rows
    return WrittenShard(rows, sink.nbytes, sink.sha256.hexdigest(), time.time() - started)


def commit_shard(storage: Storage, spec: ShardSpec, written: WrittenShard, **details) -> bool:
    """Create the shard's manifest if absent. False when another attempt committed first."""
    manifest = {
        "shard": spec.key, "stage": spec.stage, "strategy": spec.strategy, "index": spec.index,
        "start": spec.start, "size": spec.size, "seed": spec.seed,
        "rows": written.rows, "bytes": written.nbytes, "sha256": written.sha256,
        "seconds": round(written.seconds, 4), "committed_at": time.time(), "host": socket.gethostname(),
    }
    clashes = sorted(manifest.keys() & ({**written.extra, **details}).keys())
    if clashes:  # a runner's detail must never overwrite what status and resume read
        raise ValueError(f"manifest details {clashes} would overwrite the shard's own fields")
    manifest.update(written.extra, **details)
    created = storage.create_if_absent(manifest_key(spec), json.dumps(manifest, sort_keys=True).encode())
    if created and storage.exists(failure_key(spec)):
        storage.delete(failure_key(spec))
    return created


def record_failure(storage: Storage, spec: ShardSpec, error: str, attempts: int) -> None:
    payload = {"shard": spec.key, "error": error[:2000], "attempts": attempts, "at": time.time()}
    storage.write_bytes(failure_key(spec), json.dumps(payload).encode())


def read_manifest(storage: Storage, spec: ShardSpec) -> dict | None:
    key = manifest_key(spec)
    return json.loads(storage.read_bytes(key)) if storage.exists(key) else None


def committed_manifests(storage: Storage, stage: str) -> dict[tuple[str, int], dict]:
    """{(strategy, index): manifest} for every committed shard of a stage."""
    found = {}
    for key in storage.list(f"{MANIFEST_ROOT}/{stage}", suffix=".json"):
        manifest = json.loads(storage.read_bytes(key))
        found[(manifest["strategy"], int(manifest["index"]))] = manifest
    return found


def checksum_ok(storage: Storage, spec: ShardSpec, manifest: dict) -> bool:
    """The data object matches its manifest (size, then sha256 of the bytes)."""
    key = data_key(spec)
    if storage.size(key) != manifest["bytes"]:
        return False
    return hashlib.sha256(storage.read_bytes(key)).hexdigest() == manifest["sha256"]


def read_shard(storage: Storage, spec: ShardSpec, columns: list[str] | None = None) -> pa.Table:
    with storage.open_input_file(data_key(spec)) as handle:
        return pq.read_table(handle, columns=columns)


def table_from_bytes(data: bytes) -> pa.Table:
    """A Parquet file held in memory as a table, read from Arrow's own copy of the bytes.

    Arrow reads on its thread pool, and a pool thread may drop the last hold on the source
    after the call has returned. Were the source the Python `bytes` (`pa.py_buffer`,
    `BytesIO`), that release needs the GIL, and during interpreter exit the thread cannot
    take it: the process aborts ("terminate called without an active exception", exit 134;
    `memx status` did, about one run in twenty on a loaded machine). A copy in Arrow memory
    is released without Python."""
    sink = pa.BufferOutputStream()
    sink.write(data)
    return pq.read_table(pa.BufferReader(sink.getvalue()))
