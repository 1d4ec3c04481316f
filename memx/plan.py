"""Shard planning: which named shards a run consists of, and the seed each one owns.

A shard spec fixes everything needed to produce the shard on its own: strategy, index,
sample range and a seed derived from the run seed and the shard's name, so that shard
`top_k/shard-00042` is reproducible without any other shard. Pure: no I/O, no Ray.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, replace

from memx.config import Config

STAGES = ("samples", "scores", "verified")


def stages_of(config: Config) -> tuple[str, ...]:
    """The sharded stages this run has: `verified` only with `verify.scope: all`."""
    verify_all = config.verify is not None and config.verify.scope == "all"
    return STAGES if verify_all else STAGES[:2]


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


def plan_stage(config: Config, stage: str) -> list[ShardSpec]:
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}")
    if stage not in stages_of(config):
        return []
    gen = config.generation
    specs = []
    for strategy in gen.strategies:
        count = -(-gen.samples_per_strategy // gen.shard_size)
        for index in range(count):
            start = index * gen.shard_size
            size = min(gen.shard_size, gen.samples_per_strategy - start)
            specs.append(ShardSpec(stage, strategy, index, start, size, shard_seed(gen.seed, strategy, index)))
    return specs
