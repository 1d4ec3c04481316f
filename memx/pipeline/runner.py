"""The shard runner: the one way a sharded stage turns a shard spec into a committed shard.

`ShardRunner.run(spec)` skips a shard whose manifest exists (a task delivered twice, a
retry racing a slow success, costs time, never a duplicate), else asks the stage for the
shard's rows (`rows(spec)`), streams them to the shard's data object, and only then
creates its manifest with the stage's `details()` added. A stage's runner loads its models
once (`__init__(run, device, num_threads)`) and produces rows; it never writes, skips or
times anything itself. Which stage a runner serves is declared in `memx.pipeline.stages`.

Runners know the run's config and storage, not Ray: `cluster/` wraps them in actors,
tests and single-process runs call them directly. A runner receives its `Run` (storage
resolved by the command that started the job) and never rebuilds a location.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import Iterable

import pyarrow as pa

from memx.pipeline.run import Run
from memx.plan import ShardSpec
from memx.shards import commit_shard, manifest_key, read_manifest, write_shard
from memx.storage import Storage


def configure_threads(num_threads: int | None) -> None:
    import torch

    if num_threads:
        torch.set_num_threads(max(1, int(num_threads)))


class ShardRunner(ABC):
    """Subclasses implement `rows(spec)` (a table, or record batches of `schema(spec)`) and,
    for the manifest, `details(spec, seconds)`; `run(spec)` does the rest."""

    uses_torch = True  # a numpy-only runner skips torch: ~120 MiB and seconds per actor

    def __init__(self, run: Run, device: str | None = None, num_threads: int | None = None):
        if self.uses_torch:
            configure_threads(num_threads)
        self.config = run.config
        self.storage: Storage = run.storage
        self.device = device

    @abstractmethod
    def rows(self, spec: ShardSpec) -> pa.Table | Iterable[pa.RecordBatch]:
        """The shard's rows: a whole table, or record batches streamed as they are made."""

    def schema(self, spec: ShardSpec) -> pa.Schema:
        """The schema of streamed batches (only asked when `rows` returns batches)."""
        raise NotImplementedError(f"{type(self).__name__}.rows yields batches: it must name their schema")

    def details(self, spec: ShardSpec, seconds: float) -> dict:
        """What the manifest keeps beside rows, bytes and checksum (asked once the rows are written)."""
        return {}

    def result(self, spec: ShardSpec) -> dict:
        """Extra fields of what `run` returns to the driver (e.g. tokens for the progress bar)."""
        return {}

    def committed(self, spec: ShardSpec) -> dict | None:
        return read_manifest(self.storage, spec) if self.storage.exists(manifest_key(spec)) else None

    def run(self, spec: ShardSpec) -> dict:
        done = self.committed(spec)
        if done is not None:
            return {"shard": spec.key, "rows": done["rows"], "skipped": True}
        started = time.time()
        rows = self.rows(spec)
        if isinstance(rows, pa.Table):
            schema, batches = rows.schema, [rows]
        else:
            schema, batches = self.schema(spec), rows
        written = write_shard(self.storage, spec, schema, batches)
        written.seconds = time.time() - started  # the rows' making, not only their writing
        written.extra = self.details(spec, written.seconds)
        committed = commit_shard(self.storage, spec, written)
        return {"shard": spec.key, "rows": written.rows, **self.result(spec), "seconds": written.seconds,
                "committed": committed}
