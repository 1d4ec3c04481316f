"""The shards of the `membership` stage: each side's selected documents cut into shards of
`shard_documents`, shard i of a side holding documents i·shard_documents … of its list.
The family (a shard spec's `strategy` slot) is the side, so the files are
`membership/{members|nonmembers}/shard-NNNNN`.

How many documents a side holds is known without tokenizing: the source's count for
`documents: all` (one scan), else n. Which documents a shard reads is the same list cut
the same way wherever it is asked (`memx.extraction.plan.shard_documents`). It knows the
config and, through the run's inputs, the sources' document counts; not models or storage.
"""

from __future__ import annotations

from typing import Callable

from memx.config import Config
from memx.membership.documents import SIDES
from memx.plan import ShardSpec, shard_seed


def side_source(config: Config, inputs, side: str):
    """One side's source through the run's inputs (`inputs.documents`, scanned once per
    process: offsets only); ValueError naming `membership.{side}` when it cannot be read."""
    uri = getattr(config.membership, side)
    try:
        return inputs.documents(uri)
    except FileNotFoundError:
        raise ValueError(f"membership.{side}: {uri}: no such file or directory") from None
    except (OSError, ValueError) as error:
        raise ValueError(f"membership.{side}: cannot read {uri} ({error})") from None


def side_count(config: Config, count_documents: Callable[[str], int], side: str) -> int:
    """How many documents `side` measures; `count_documents(side)` counts its source (lazily)."""
    wanted = config.membership.documents
    return int(count_documents(side)) if wanted == "all" else int(wanted)


def plan_shards(config: Config, stage: str, count_documents: Callable[[str], int]) -> list[ShardSpec]:
    """Every shard of both sides, members first."""
    per, seed = config.membership.shard_documents, config.generation.seed
    specs = []
    for side in SIDES:
        count = side_count(config, count_documents, side)
        specs += [ShardSpec(stage, side, i, i * per, min(per, count - i * per), shard_seed(seed, side, i))
                  for i in range(-(-count // per))]
    return specs
