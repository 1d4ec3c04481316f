"""Near-duplicate clusters: confirm LSH candidate pairs with the exact rule, union-find.

Two texts are linked when either duplicates the other under the paper's trigram rule
(checked on hashed gram multisets, see trigrams.py); clusters are the transitive closure
of links, and a text's `duplicates` is the size of its cluster (1 = unique).

`DedupIndex` answers "does this text duplicate any text kept so far?" with an inverted
index over grams, so the selection walks cost O(grams) per text, not O(kept texts).

This module knows nothing about MinHash, samples, shards or storage: it receives gram
multisets and index pairs.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Mapping

import numpy as np

from memx.reduce.trigrams import hashed_overlap

Multiset = tuple[np.ndarray, np.ndarray]  # (sorted distinct gram hashes, counts)


class UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = np.arange(n, dtype=np.int64)
        self._p = self.parent  # a list would be faster per call but ~4x the memory

    def find(self, x: int) -> int:
        p = self._p
        root = x
        while p[root] != root:
            root = int(p[root])
        while p[x] != root:  # path compression keeps later finds O(1)
            nxt = int(p[x])
            p[x] = root
            x = nxt
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # the smaller index becomes the root, so labels do not depend on pair order
            self._p[max(ra, rb)] = min(ra, rb)

    def labels(self) -> np.ndarray:
        """Root of every element, fully compressed, vectorized."""
        p = self.parent
        while True:
            nxt = p[p]
            if np.array_equal(nxt, p):
                return p.copy()
            p[:] = nxt


def linked(a: Multiset, b: Multiset) -> bool:
    """Either text duplicates the other (|A ∩ B| >= |A|/2 or >= |B|/2)."""
    inter = hashed_overlap(a, b)
    smaller = min(int(a[1].sum()), int(b[1].sum()))
    return 2 * inter >= smaller


def cluster_pairs(
    n: int,
    pairs: np.ndarray,
    multisets: Mapping[int, Multiset],
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """Cluster labels (root index per text) and how many pairs were checked exactly.

    `pairs` should come most-similar first: once a pair's texts share a cluster the
    check is skipped, so a page copied 200 times costs ~200 checks, not 20,000.
    """
    uf = UnionFind(n)
    checked = 0
    total = len(pairs)
    for k, (i, j) in enumerate(pairs.tolist()):
        if uf.find(i) != uf.find(j):
            checked += 1
            if linked(multisets[i], multisets[j]):
                uf.union(i, j)
        if progress is not None and (k + 1) % 100_000 == 0:
            progress(k + 1, total)
    return uf.labels(), checked


def cluster_sizes(labels: np.ndarray) -> np.ndarray:
    return np.bincount(labels, minlength=len(labels))[labels]


class DedupIndex:
    """Texts kept so far, and whether a new text duplicates one of them (paper's rule)."""

    def __init__(self) -> None:
        self._postings: dict[int, list[tuple[int, int]]] = defaultdict(list)
        self.kept: list[object] = []

    def first_duplicated(self, grams: Multiset) -> int | None:
        """Position (in `kept`) of the first kept text that `grams` duplicates, or None."""
        values, counts = grams
        total = int(counts.sum())
        shared: dict[int, int] = defaultdict(int)
        for value, count in zip(values.tolist(), counts.tolist()):
            for owner, kept_count in self._postings.get(value, ()):
                shared[owner] += min(count, kept_count)
        hits = [owner for owner, inter in shared.items() if 2 * inter >= total]
        return min(hits) if hits else None

    def add(self, key: object, grams: Multiset) -> None:
        position = len(self.kept)
        self.kept.append(key)
        for value, count in zip(grams[0].tolist(), grams[1].tolist()):
            self._postings[value].append((position, count))
