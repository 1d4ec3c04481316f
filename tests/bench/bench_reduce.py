"""Benchmark of the reduce stage on a synthetic run in the documented layout (docs/outputs.md).

    python tests/bench/bench_reduce.py --samples 600000 [--samples 60000 ...]

Writes once (cached under $MEMX_CACHE or /tmp/memx-bench-reduce) samples/{strategy}/
shard-NNNNN.parquet (~1.2 KB texts of Zipf-distributed random words, some with
punctuation) and scores/{strategy}/shard-NNNNN.parquet (8 score columns), with planted
near-duplicate groups (2-200 copies with word substitutions, truncations and shifts)
half of them with boosted scores so selection meets them. Then runs `run_reduce` in a child
process through a local-file reader, and prints per size: wall seconds, peak RSS of the
child (ru_maxrss), how many planted groups ended in one cluster, and LSH statistics.

It knows nothing about manifests: every shard file present counts as committed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

STRATEGIES = ["top_k", "temperature", "internet"]
METRICS = ["perplexity", "ratio_small", "ratio_medium", "zlib", "lowercase", "window", "min_k", "min_k_plus_plus"]
SHARD = 1000
VERSION = "v2"


def _vocabulary(rng: np.random.Generator, size: int = 30_000) -> tuple[pa.Array, np.ndarray]:
    letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
    lengths = rng.integers(2, 10, size)
    words = ["".join(map(chr, rng.choice(letters, n))) for n in lengths]
    words = [w + "," if i % 11 == 0 else (w + "." if i % 13 == 0 else w) for i, w in enumerate(words)]
    cdf = np.cumsum(1.0 / np.arange(1, size + 1) ** 0.9)
    return pa.array(words), cdf / cdf[-1]


def _draw(rng, cdf, n):
    return np.searchsorted(cdf, rng.random(n)).astype(np.int32)


def _plant(rng, total, cdf):
    """Groups of global sample positions and each member's word ids."""
    groups, pos = [], 0
    slots = rng.permutation(total)
    n_groups = max(total // 300, 2)
    members_words = {}
    for g in range(n_groups):
        u = rng.random()
        low, high = (2, 6) if u < 0.8 else ((6, 31) if u < 0.97 else (31, 201))
        size = int(rng.integers(low, high))
        members = slots[pos : pos + size].tolist()
        pos += size
        template = _draw(rng, cdf, int(rng.integers(170, 230)))
        for m in members:
            words = template.copy()
            edits = rng.random(len(words)) < rng.uniform(0.0, 0.05)
            words[edits] = _draw(rng, cdf, int(edits.sum()))
            if rng.random() < 0.2:
                words = words[: int(len(words) * rng.uniform(0.6, 0.95))]
            elif rng.random() < 0.1:
                words = words[int(rng.integers(1, 10)) :]
            members_words[m] = words
        groups.append(members)
    return groups, members_words


def generate(root: Path, samples: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    vocab, cdf = _vocabulary(rng)
    per_strategy = samples // len(STRATEGIES)
    total = per_strategy * len(STRATEGIES)
    groups, planted = _plant(rng, total, cdf)
    boosted = np.zeros(total, dtype=bool)
    # only every other group scores high: the rest must be found outside the pools
    boosted[[m for g in groups[::2] for m in g]] = True
    for si, strategy in enumerate(STRATEGIES):
        (root / "samples" / strategy).mkdir(parents=True, exist_ok=True)
        (root / "scores" / strategy).mkdir(parents=True, exist_ok=True)
        for shard, lo in enumerate(range(0, per_strategy, SHARD)):
            n = min(SHARD, per_strategy - lo)
            base = si * per_strategy + lo
            lengths = rng.integers(170, 230, n)
            words = [_draw(rng, cdf, int(lengths.sum()))]
            pieces = np.split(words[0], np.cumsum(lengths)[:-1])
            for r in range(n):
                if base + r in planted:
                    pieces[r] = planted[base + r]
            counts = np.array([len(p) for p in pieces])
            offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
            lists = pa.ListArray.from_arrays(pa.array(offsets), vocab.take(pa.array(np.concatenate(pieces))))
            texts = pc.binary_join(lists, " ")
            ids = [f"{strategy}-{shard:05d}-{r:05d}" for r in range(n)]
            pq.write_table(pa.table({
                "sample_id": ids, "strategy": [strategy] * n, "shard": pa.array([shard] * n, pa.int32()),
                "seed": pa.array([seed] * n, pa.int64()), "text": texts,
            }), root / "samples" / strategy / f"shard-{shard:05d}.parquet")
            boost = boosted[base : base + n] * 3.0
            score_cols = {f"score_{m}": rng.normal(size=n) + boost for m in METRICS}
            score_path = root / "scores" / strategy / f"shard-{shard:05d}.parquet"
            pq.write_table(pa.table({"sample_id": ids, **score_cols}), score_path)
    (root / "planted.json").write_text(json.dumps(groups))
    (root / "DONE").write_text("ok")


class LocalReader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.strategies = [s for s in STRATEGIES if (root / "samples" / s).is_dir()]

    def shards(self, strategy: str) -> list[int]:
        return sorted(int(p.stem.split("-")[1]) for p in (self.root / "scores" / strategy).glob("shard-*.parquet"))

    def read_scores(self, strategy, shard, columns):
        return pq.read_table(self.root / "scores" / strategy / f"shard-{shard:05d}.parquet", columns=columns)

    def read_samples(self, strategy, shard, columns):
        return pq.read_table(self.root / "samples" / strategy / f"shard-{shard:05d}.parquet", columns=columns)


def child(root: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from memx.config import SelectionConfig
    from memx.reduce import run_reduce, total_unique

    start = time.perf_counter()
    result = run_reduce(LocalReader(root), METRICS, SelectionConfig())
    seconds = time.perf_counter() - start
    groups = json.loads((root / "planted.json").read_text())
    labels = result.labels
    whole = sum(len({int(labels[m]) for m in g}) == 1 for g in groups)
    planted_members = sum(len(g) for g in groups)
    cand = result.candidates
    print(json.dumps({
        "seconds": round(seconds, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "cpu_seconds": round(resource.getrusage(resource.RUSAGE_SELF).ru_utime
                             + resource.getrusage(resource.RUSAGE_SELF).ru_stime, 1),
        "groups": len(groups), "groups_in_one_cluster": whole, "planted_members": planted_members,
        "candidates": cand.num_rows, "total_unique": total_unique(cand),
        "max_duplicates": max(cand.column("duplicates").to_pylist() or [0]),
        **{k: v for k, v in result.stats.items() if k != "seconds"}, "seconds_by_phase": result.stats["seconds"],
    }))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, action="append")
    parser.add_argument("--child", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    cache = Path(os.environ.get("MEMX_CACHE", "/tmp/memx-bench-reduce"))
    for samples in args.samples or [60_000]:
        root = cache / f"reduce-{samples}-{VERSION}"
        if not (root / "DONE").exists():
            t0 = time.perf_counter()
            generate(root, samples)
            print(f"generated {samples} samples in {time.perf_counter() - t0:.0f}s at {root}", flush=True)
        out = subprocess.run([sys.executable, __file__, "--child", str(root)], capture_output=True, text=True)
        if out.returncode != 0:
            sys.stderr.write(out.stderr)
            raise SystemExit(out.returncode)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"samples={r['samples']} seconds={r['seconds']} cpu_seconds={r['cpu_seconds']} "
              f"peak_rss={r['peak_rss_mib']}MiB "
              f"planted_groups_whole={r['groups_in_one_cluster']}/{r['groups']} "
              f"clustered_samples={r['clustered_samples']} (planted {r['planted_members']}) "
              f"clusters={r['clusters']} lsh_pairs={r['lsh_pairs']} kept_pairs={r['pairs_after_estimate']} "
              f"checked={r['pairs_checked']} candidates={r['candidates']} total_unique={r['total_unique']} "
              f"max_duplicates={r['max_duplicates']} phases={r['seconds_by_phase']}", flush=True)
        if r["groups_in_one_cluster"] != r["groups"]:
            raise SystemExit(f"FAIL: {r['groups'] - r['groups_in_one_cluster']} planted groups were split")


if __name__ == "__main__":
    main()
