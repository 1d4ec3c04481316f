"""Selection (docs/formulas.md): rank per (metric, strategy), de-duplicate the top pool, union.

- `top_pool` streams score shards (sample_id + score columns only) and keeps a running
  top `pool` per metric, so memory is O(pool), not O(samples). Order: score descending,
  ties by sample_id ascending; NaN and null scores rank last (docs/outputs.md: they never occur).
- `walk_config` keeps a sample unless it duplicates (paper's rule, direction "the new
  sample duplicates a kept one") a sample already kept in the same configuration, and
  stops at `per_config`. `rank` is the 1-based position among kept samples;
  `pool_rank` the 1-based position in the full ranking.
- `union_walk` de-duplicates the union of all configurations' kept rows. Canonical
  order: rank, then strategy order, then metric order, so the best-ranked row of a
  near-duplicate group represents it. A row gets `union_keep` = True when its sample is
  the first occurrence of a representative; `union_of` names the representative's
  sample_id (its own for representatives and their repeats in other metrics). Counting
  `union_keep` rows per strategy gives the "total unique" line of Table 2, and the
  strategy totals add up to the global total, as in the paper (191 + 140 + 273 = 604).

This module knows nothing about storage layouts, MinHash or clusters.
"""

from __future__ import annotations

from typing import Callable, Mapping, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from memx.reduce.clusters import DedupIndex, Multiset


class ScoreReader(Protocol):
    def shards(self, strategy: str) -> list[int]: ...

    def read_scores(self, strategy: str, shard: int, columns: list[str]) -> pa.Table: ...


_POOL_SCHEMA = pa.schema([("sample_id", pa.string()), ("score", pa.float64())])


def _rank(table: pa.Table, limit: int) -> pa.Table:
    order = pc.sort_indices(table, sort_keys=[("score", "descending"), ("sample_id", "ascending")])
    return table.take(order[:limit])


def top_pool(
    reader: ScoreReader,
    strategy: str,
    metrics: list[str],
    pool: int,
    progress: Callable[[], None] | None = None,
) -> dict[str, pa.Table]:
    """Per metric: the top `pool` (sample_id, score, pool_rank), best first."""
    best = {m: _POOL_SCHEMA.empty_table() for m in metrics}
    columns = ["sample_id", *(f"score_{m}" for m in metrics)]
    for shard in reader.shards(strategy):
        table = reader.read_scores(strategy, shard, columns)
        missing = [c for c in columns if c not in table.column_names]
        if missing:
            raise KeyError(f"scores/{strategy}/shard-{shard:05d} lacks columns {missing}")
        ids = table.column("sample_id").cast(pa.string())
        for m in metrics:
            scores = table.column(f"score_{m}").cast(pa.float64())
            fresh = pa.Table.from_arrays([ids, scores], schema=_POOL_SCHEMA)
            best[m] = _rank(pa.concat_tables([best[m], fresh]), pool).combine_chunks()
        if progress is not None:
            progress()
    out = {}
    for m, table in best.items():
        ranks = pa.array(range(1, table.num_rows + 1), pa.int32())
        out[m] = table.append_column("pool_rank", ranks)
    return out


def walk_config(pool_table: pa.Table, grams: Mapping[str, Multiset], per_config: int) -> list[dict]:
    """Kept rows of one configuration, in rank order."""
    index = DedupIndex()
    kept: list[dict] = []
    for row in pool_table.to_pylist():
        if len(kept) >= per_config:
            break
        g = grams[row["sample_id"]]
        if index.first_duplicated(g) is not None:
            continue
        index.add(row["sample_id"], g)
        kept.append({**row, "rank": len(kept) + 1})
    return kept


def union_walk(
    rows: list[dict],
    grams: Mapping[str, Multiset],
    strategies: list[str],
    metrics: list[str],
) -> None:
    """Sets `union_keep` and `union_of` on every row, in place (see the module doc)."""
    s_pos = {s: i for i, s in enumerate(strategies)}
    m_pos = {m: i for i, m in enumerate(metrics)}
    order = sorted(
        range(len(rows)), key=lambda i: (rows[i]["rank"], s_pos[rows[i]["strategy"]], m_pos[rows[i]["metric"]])
    )
    index = DedupIndex()
    representative: dict[str, str] = {}
    for i in order:
        row = rows[i]
        sid = row["sample_id"]
        if sid in representative:
            row["union_keep"] = False
            row["union_of"] = representative[sid]
            continue
        hit = index.first_duplicated(grams[sid])
        if hit is None:
            index.add(sid, grams[sid])
            representative[sid] = sid
            row["union_keep"] = True
        else:
            representative[sid] = index.kept[hit]  # type: ignore[assignment]
            row["union_keep"] = False
        row["union_of"] = representative[sid]


def total_unique(candidates: pa.Table, mask: pa.Array | None = None) -> dict[str, int]:
    """Table 2's "total unique" per strategy: union_keep rows (and `mask`, e.g. memorized)."""
    keep = candidates.column("union_keep")
    if mask is not None:
        keep = pc.and_(keep, mask)
    kept = candidates.filter(keep)
    counts = pc.value_counts(kept.column("strategy")).to_pylist() if kept.num_rows else []
    return {c["values"]: c["counts"] for c in counts}
