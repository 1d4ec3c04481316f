"""Synthetic runs for the reduce tests: random-word texts with planted near-duplicates.

Scores are functions of the text (so a test can recompute a candidate's score from its
text) plus a boost for planted groups, so near-duplicates crowd the top of the ranking.
Knows nothing about the reduce implementation.
"""

from __future__ import annotations

import zlib

import numpy as np
import pyarrow as pa

VOCAB = [f"w{i}" for i in range(3000)] + ["the", "of", "and", "a", "to"]


def text_score(text: str) -> float:
    return len(zlib.compress(text.encode())) / max(len(text), 1)


def make_run(n_per_strategy: int, strategies=("top_k", "temperature"), groups: int = 20, seed: int = 0,
             shard_size: int = 100):
    """(samples, scores, planted) where planted is a list of sample_id groups."""
    rng = np.random.default_rng(seed)
    total = n_per_strategy * len(strategies)
    weights = np.ones(len(VOCAB))
    weights[-5:] = 300.0  # a few very common words give shared trigrams, as real text has
    weights /= weights.sum()
    docs = [list(rng.choice(len(VOCAB), size=rng.integers(40, 120), p=weights)) for _ in range(total)]
    slots = rng.permutation(total)
    planted_idx, pos = [], 0
    for g in range(groups):
        size = int(rng.integers(2, 8))
        members = slots[pos : pos + size].tolist()
        pos += size
        base = docs[members[0]]
        for m in members[1:]:
            copy = list(base)
            for _ in range(int(rng.integers(0, 4))):  # small edits
                copy[int(rng.integers(len(copy)))] = int(rng.integers(len(VOCAB) - 5))
            if rng.random() < 0.3:
                copy = copy[: int(len(copy) * 0.7)]  # a shorter copy, contained in the base
            docs[m] = copy
        planted_idx.append(members)
    texts = [" ".join(VOCAB[w] for w in d) + ("." if i % 3 == 0 else "") for i, d in enumerate(docs)]
    boost = np.zeros(total)
    for members in planted_idx:
        boost[members] = 1.0
    ids, strat, shard = [], [], []
    for i in range(total):
        s = strategies[i // n_per_strategy]
        row = i % n_per_strategy
        ids.append(f"{s}-{row // shard_size:05d}-{row % shard_size:05d}")
        strat.append(s)
        shard.append(row // shard_size)
    samples = pa.table({"sample_id": ids, "strategy": strat, "shard": pa.array(shard, pa.int32()), "text": texts})
    base_scores = np.array([text_score(t) for t in texts])
    scores = pa.table({
        "sample_id": ids,
        "score_zlib": base_scores,
        "score_boosted": base_scores + boost,
        "score_random": rng.random(total),
    })
    planted = [[ids[m] for m in members] for members in planted_idx]
    return samples, scores, planted
