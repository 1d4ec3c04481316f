"""An in-memory `RunReader` for the tests: sample and score tables held as pyarrow tables.

It splits a samples table and a scores table into shards by the `shard` column (or by
fixed-size slices) and serves them like a stored run. It knows nothing about storage,
manifests or the documented file layout (docs/outputs.md).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


class InMemoryRunReader:
    """Serves `samples` and `scores` (joined on sample_id) per strategy and shard."""

    def __init__(self, samples: pa.Table, scores: pa.Table, shard_size: int = 1000) -> None:
        if samples.num_rows != scores.num_rows:
            raise ValueError("samples and scores must have the same rows")
        self._shards: dict[str, dict[int, tuple[pa.Table, pa.Table]]] = {}
        strategies = samples.column("strategy").to_pylist()
        self.strategies = list(dict.fromkeys(strategies))
        by_id = {sid: i for i, sid in enumerate(scores.column("sample_id").to_pylist())}
        order = [by_id[sid] for sid in samples.column("sample_id").to_pylist()]
        scores = scores.take(pa.array(order, pa.int64()))
        for strategy in self.strategies:
            mask = pc.equal(samples.column("strategy"), strategy)
            s_samples, s_scores = samples.filter(mask), scores.filter(mask)
            if "shard" in s_samples.column_names:
                shard_ids = sorted(set(s_samples.column("shard").to_pylist()))
                parts = {}
                for shard in shard_ids:
                    m = pc.equal(s_samples.column("shard"), shard)
                    parts[shard] = (s_samples.filter(m), s_scores.filter(m))
            else:
                parts = {
                    i: (s_samples.slice(lo, shard_size), s_scores.slice(lo, shard_size))
                    for i, lo in enumerate(range(0, s_samples.num_rows, shard_size))
                }
            self._shards[strategy] = parts

    def shards(self, strategy: str) -> list[int]:
        return sorted(self._shards.get(strategy, {}))

    def read_scores(self, strategy: str, shard: int, columns: list[str]) -> pa.Table:
        return self._shards[strategy][shard][1].select(columns)

    def read_samples(self, strategy: str, shard: int, columns: list[str]) -> pa.Table:
        return self._shards[strategy][shard][0].select(columns)
