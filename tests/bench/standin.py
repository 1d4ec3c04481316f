"""A stand-in for a model, for the scale benchmark only (never part of the product):
"generates" tokens at a fixed rate (it sleeps for the time a real replica would take)
and writes real sample rows through the real storage, shard writer and manifests."""

from __future__ import annotations

import os
import time

import numpy as np
import pyarrow as pa

from memx.generation import SAMPLE_SCHEMA
from memx.plan import ShardSpec
from memx.pipeline.runner import ShardRunner

TOKENS_PER_SECOND = float(os.environ.get("MEMX_STANDIN_TOKENS_PER_S", "100000"))


class FixedRateRunner(ShardRunner):
    uses_torch = False

    def schema(self, spec: ShardSpec) -> pa.Schema:
        return SAMPLE_SCHEMA

    def rows(self, spec: ShardSpec):
        n_tokens = self.config.generation.max_new_tokens
        rng = np.random.default_rng(spec.seed)
        batch = self.config.generation.batch_size
        for start in range(0, spec.size, batch):
            rows = range(start, min(spec.size, start + batch))
            started = time.perf_counter()
            tokens = rng.integers(0, 50257, size=(len(rows), n_tokens), dtype=np.int32)
            token_ids = pa.ListArray.from_arrays(np.arange(0, tokens.size + 1, n_tokens, dtype=np.int32),
                                                 pa.array(tokens.ravel()))
            yield pa.record_batch([
                pa.array([spec.sample_id(r) for r in rows]), pa.array([spec.strategy] * len(rows)),
                pa.array([spec.index] * len(rows), pa.int32()), pa.array([spec.seed] * len(rows), pa.int64()),
                pa.array([[50256]] * len(rows), pa.list_(pa.int32())), token_ids,
                pa.array(["<stand-in text>"] * len(rows))], schema=SAMPLE_SCHEMA)
            # The replica's time for this batch, minus what building the rows already took.
            time.sleep(max(0.0, tokens.size / TOKENS_PER_SECOND - (time.perf_counter() - started)))

    def details(self, spec: ShardSpec, seconds: float) -> dict:
        return {"tokens": spec.size * self.config.generation.max_new_tokens, "model": "stand-in"}

    def result(self, spec: ShardSpec) -> dict:
        return {"tokens": spec.size * self.config.generation.max_new_tokens}
