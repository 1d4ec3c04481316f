"""Shard planning: which named shards a run consists of, and the seed each one owns.

A shard spec fixes everything needed to produce the shard on its own: strategy (or, in a
stage over a source, the family's name), index, row range and a seed derived from the run
seed and the shard's name, so that shard `top_k/shard-00042` is reproducible without any
other shard. Which stages a run has and which planner each uses: `memx.pipeline.stages`.
Pure: no I/O, no Ray.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, replace

from memx.config import Config


@dataclass(frozen=True, order=True)
class ShardSpec:
    stage: str
    strategy: str
    index: int
    start: int
    size: int
    seed: int

    @property
    def name(self) -> str:
        return f"shard-{self.index:05d}"

    @property
    def key(self) -> str:
        """`{stage}/{strategy}/shard-NNNNN`: the shard's identity across storage and manifests."""
        return f"{self.stage}/{self.strategy}/{self.name}"

    def in_stage(self, stage: str) -> "ShardSpec":
        """The same shard in another stage: a sidecar and its samples share name, seed and rows."""
        return replace(self, stage=stage)

    def sample_id(self, row: int) -> str:
        return f"{self.strategy}-{self.index:05d}-{row:05d}"

    def to_dict(self) -> dict:
        return asdict(self)


def shard_seed(run_seed: int, strategy: str, index: int) -> int:
    digest = hashlib.sha256(f"memx/{run_seed}/{strategy}/{index:05d}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1  # 63 bits: fits int64 and torch.manual_seed


def strategy_shards(config: Config, stage: str) -> list[ShardSpec]:
    """One shard family per generation strategy, `samples_per_strategy` rows in `shard_size` shards."""
    gen = config.generation
    specs = []
    for strategy in gen.strategies:
        count = -(-gen.samples_per_strategy // gen.shard_size)
        for index in range(count):
            start = index * gen.shard_size
            size = min(gen.shard_size, gen.samples_per_strategy - start)
            specs.append(ShardSpec(stage, strategy, index, start, size, shard_seed(gen.seed, strategy, index)))
    return specs
