"""`run_reduce`: scores + samples of a run -> the candidates table (docs/formulas.md, docs/outputs.md).

Passes, each streaming one shard at a time so no pass holds all texts:
1. scores (sample_id + score_* only): running top `pool` per (metric, strategy);
2. samples (sample_id + text): the 80 x 32-bit MinHash signature of every sample
   (320 bytes each), plus texts and gram multisets of the pool samples only;
3. samples again, only the shards holding texts in an LSH candidate pair: their gram
   multisets, to confirm pairs with the exact rule; union-find gives clusters.
Then each configuration is walked (de-dup, `per_config`), and the union de-duplicated.

Samples are numbered in reading order (strategy, shard, row); `ReduceResult` exposes the
cluster label of every sample under that numbering for benchmarks and audits.

Deliberately unknown here: where the run lives (the reader hides storage and manifests),
Ray, and verification. The reader's shards must be the committed ones.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from memx.config import SelectionConfig
from memx.errors import MemxFailure
from memx.reduce.clusters import Multiset, cluster_pairs, cluster_sizes
from memx.reduce.minhash import LshParams, candidate_pairs, estimate_jaccard, signatures
from memx.reduce.select import top_pool, union_walk, walk_config
from memx.reduce.trigrams import gram_hashes, gram_multiset

Progress = Callable[[str, int, int], None]

CANDIDATE_SCHEMA = pa.schema(
    [
        ("sample_id", pa.string()),
        ("strategy", pa.string()),
        ("metric", pa.string()),
        ("rank", pa.int32()),
        ("score", pa.float64()),
        ("text", pa.string()),
        ("duplicates", pa.int64()),
        ("union_keep", pa.bool_()),
        ("union_of", pa.string()),
        ("pool_rank", pa.int32()),
    ]
)


class RunReader(Protocol):
    strategies: list[str]

    def shards(self, strategy: str) -> list[int]: ...

    def read_scores(self, strategy: str, shard: int, columns: list[str]) -> pa.Table: ...

    def read_samples(self, strategy: str, shard: int, columns: list[str]) -> pa.Table: ...


@dataclass
class ReduceResult:
    candidates: pa.Table
    labels: np.ndarray  # cluster root (a sample number) of every sample
    shard_bases: list[tuple[str, int, int, int]]  # (strategy, shard, first sample number, rows)
    stats: dict = field(default_factory=dict)

    @property
    def sizes(self) -> np.ndarray:
        return cluster_sizes(self.labels)


def _multisets(hashes: np.ndarray, offsets: np.ndarray, rows: np.ndarray) -> list[Multiset]:
    out = []
    for r in rows.tolist():
        values, counts = gram_multiset(hashes[offsets[r] : offsets[r + 1]])
        out.append((values, counts.astype(np.int32)))
    return out


@dataclass
class _Pass2:
    sig: np.ndarray | None
    pool_text: dict[str, str]
    pool_grams: dict[str, Multiset]
    pool_doc: dict[str, int]
    bases: list[tuple[str, int, int, int]]
    n_docs: int


def _signature_pass(reader, strategies, shard_lists, pool_id_array, lsh, report) -> _Pass2:
    """Pass 2: every sample's signature; text, grams and sample number of pool samples."""
    out = _Pass2(None, {}, {}, {}, [], 0)
    n_shards = sum(len(v) for v in shard_lists.values())
    sig_parts = []
    for s in strategies:
        for shard in shard_lists[s]:
            table = reader.read_samples(s, shard, ["sample_id", "text"])
            hashes, offsets = gram_hashes(table.column("text"))
            sig_parts.append(signatures(hashes, offsets, lsh))
            in_pool = pc.is_in(table.column("sample_id").cast(pa.string()), value_set=pool_id_array)
            rows = np.flatnonzero(in_pool.to_numpy(zero_copy_only=False))
            if len(rows):
                picked = table.take(pa.array(rows)).select(["sample_id", "text"]).to_pylist()
                for r, rec, grams in zip(rows.tolist(), picked, _multisets(hashes, offsets, rows)):
                    out.pool_text[rec["sample_id"]] = rec["text"] or ""
                    out.pool_grams[rec["sample_id"]] = grams
                    out.pool_doc[rec["sample_id"]] = out.n_docs + r
            out.bases.append((s, shard, out.n_docs, table.num_rows))
            out.n_docs += table.num_rows
            report("reduce:signatures", len(out.bases), n_shards)
    out.sig = np.concatenate(sig_parts) if sig_parts else np.zeros((0, lsh.num_perm), np.uint32)
    return out


def _confirm_pass(reader, pairs, bases, known: dict[int, Multiset], report) -> dict[int, Multiset]:
    """Pass 3: gram multisets of every sample in a pair, reading only the shards needed.

    Holds the multisets of all paired samples at once (~2.4 KB each); the pairs come
    from near-duplicates, a small share of a real run.
    """
    involved = np.unique(pairs)
    starts = np.array([b[2] for b in bases], dtype=np.int64)
    shard_of = np.searchsorted(starts, involved, side="right") - 1 if len(bases) else involved
    needed = sorted(set(shard_of.tolist()))
    for k, si in enumerate(needed):
        s, shard, base, rows_in = bases[si]
        docs = np.array([d for d in involved[shard_of == si].tolist() if d not in known], dtype=np.int64)
        if len(docs):
            table = reader.read_samples(s, shard, ["text"])
            if table.num_rows != rows_in:
                raise MemxFailure(f"reduce: samples/{s}/shard-{shard:05d} changed during reduce; rerun reduce")
            hashes, offsets = gram_hashes(table.column("text").take(pa.array(docs - base)))
            for d, grams in zip(docs.tolist(), _multisets(hashes, offsets, np.arange(len(docs)))):
                known[d] = grams
        report("reduce:confirm", k + 1, len(needed))
    return known


def run_reduce(
    reader: RunReader,
    metric_names: list[str],
    selection: SelectionConfig,
    progress: Progress | None = None,
    lsh: LshParams = LshParams(),
) -> ReduceResult:
    report = progress or (lambda stage, done, total: None)
    strategies = list(reader.strategies)
    shard_lists = {s: list(reader.shards(s)) for s in strategies}
    n_shards = sum(len(v) for v in shard_lists.values())
    clock = {"start": time.perf_counter()}

    # pass 1: the pools
    done = 0
    pools: dict[str, dict[str, pa.Table]] = {}
    for s in strategies:
        def tick() -> None:
            nonlocal done
            done += 1
            report("reduce:scores", done, n_shards)

        pools[s] = top_pool(reader, s, metric_names, selection.pool, tick)
    pool_ids = sorted({sid for s in strategies for t in pools[s].values() for sid in t.column("sample_id").to_pylist()})
    pool_id_array = pa.array(pool_ids, pa.string())
    clock["scores"] = time.perf_counter()

    pass2 = _signature_pass(reader, strategies, shard_lists, pool_id_array, lsh, report)
    pool_text, pool_grams, pool_doc = pass2.pool_text, pass2.pool_grams, pass2.pool_doc
    bases, n_docs = pass2.bases, pass2.n_docs
    missing = [sid for sid in pool_ids if sid not in pool_doc]
    if missing:
        raise MemxFailure(f"reduce: {len(missing)} scored samples have no sample row (e.g. {missing[0]}); "
                          "run `memx resume RUN` to redo the missing sample shards")
    clock["signatures"] = time.perf_counter()
    pairs = candidate_pairs(pass2.sig, lsh)
    lsh_pairs = len(pairs)
    est = estimate_jaccard(pass2.sig, pairs)
    pass2.sig = None  # the largest array of the run; not needed past this point
    keep = est >= lsh.min_jaccard
    pairs = pairs[keep][np.argsort(-est[keep], kind="stable")]
    clock["lsh"] = time.perf_counter()
    doc_grams = _confirm_pass(reader, pairs, bases, {pool_doc[sid]: g for sid, g in pool_grams.items()}, report)
    clock["reread"] = time.perf_counter()
    labels, checked = cluster_pairs(n_docs, pairs, doc_grams)
    del doc_grams
    sizes = cluster_sizes(labels)
    clock["confirm"] = time.perf_counter()

    # selection
    rows: list[dict] = []
    n_configs = len(strategies) * len(metric_names)
    for k, (s, m) in enumerate((s, m) for s in strategies for m in metric_names):
        for row in walk_config(pools[s][m], pool_grams, selection.per_config):
            rows.append({**row, "strategy": s, "metric": m})
        report("reduce:select", k + 1, n_configs)
    union_walk(rows, pool_grams, strategies, metric_names)
    columns = {
        "sample_id": [r["sample_id"] for r in rows],
        "strategy": [r["strategy"] for r in rows],
        "metric": [r["metric"] for r in rows],
        "rank": [r["rank"] for r in rows],
        "score": [r["score"] for r in rows],
        "text": [pool_text[r["sample_id"]] for r in rows],
        "duplicates": [int(sizes[pool_doc[r["sample_id"]]]) for r in rows],
        "union_keep": [r["union_keep"] for r in rows],
        "union_of": [r["union_of"] for r in rows],
        "pool_rank": [r["pool_rank"] for r in rows],
    }
    candidates = pa.Table.from_pydict(columns, schema=CANDIDATE_SCHEMA)
    clock["select"] = time.perf_counter()
    names = list(clock)
    stats = {
        "samples": n_docs,
        "lsh_pairs": lsh_pairs,
        "pairs_after_estimate": int(len(pairs)),
        "pairs_checked": checked,
        "clustered_samples": int((sizes > 1).sum()),
        "clusters": int(len(np.unique(labels[sizes > 1]))),
        "seconds": {b: round(clock[b] - clock[a], 2) for a, b in zip(names, names[1:])},
        "lsh": {"bands": lsh.bands, "rows": lsh.rows, "min_jaccard": lsh.min_jaccard},
    }
    return ReduceResult(candidates, labels, bases, stats)

