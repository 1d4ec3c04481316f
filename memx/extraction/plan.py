"""The shards of the `extraction` stage (docs/formulas.md#extraction): shard i holds documents
i·shard_documents … of the selected list, all their windows; its family (the `strategy`
slot of a shard spec) is the section's name, so its files are `extraction/{name}/shard-NNNNN`.

How many documents the list holds is known without tokenizing: the source's count for
`all` (one scan of the source), the list's length, or n. Which documents a shard holds
(`shard_documents`) is the same list cut the same way, wherever it is asked. It knows the
config and a scanned source, not models, storage layout or Ray.
"""

from __future__ import annotations

import numpy as np

from memx.config import Config
from memx.plan import ShardSpec, shard_seed


def selected_count(config: Config, source_documents) -> int:
    """How many documents the selection holds; `source_documents()` counts the source (lazily)."""
    wanted = config.extraction.documents
    if wanted == "all":
        return int(source_documents())
    return len(wanted) if isinstance(wanted, list) else int(wanted)


def plan_shards(config: Config, stage: str, count: int) -> list[ShardSpec]:
    ex, name = config.extraction, config.extraction.stage_name
    per = ex.shard_documents
    return [ShardSpec(stage, name, i, i * per, min(per, count - i * per), shard_seed(config.generation.seed, name, i))
            for i in range(-(-count // per))]


def shard_documents(selected: np.ndarray, spec: ShardSpec) -> np.ndarray:
    """The document indexes of one shard, cut from the selected list."""
    return np.asarray(selected[spec.start: spec.start + spec.size], dtype=np.int64)
