"""MinHash signatures and LSH banding over hashed word trigrams, vectorized with numpy.

Why these numbers: the de-dup rule is containment >= 1/2, which for texts of similar
length means Jaccard >= 1/3. With `rows` = 2 and `bands` = 40 (80 permutations) a pair at
Jaccard 1/3 shares at least one band with probability 1 - (1 - 1/9)^40 = 99.1%, at 1/2
with 99.9999%; pairs below ~0.1 rarely do. A permutation is h -> a*h + b (mod 2^32, a
odd) applied to the top 32 bits of grams that are already well-mixed 64-bit hashes.

Candidate pairs stay linear in the number of texts: inside an LSH bucket of at most
`small_bucket` members every pair is emitted; in a larger bucket (boilerplate, a page
copied hundreds of times) only the star to the bucket's first member and the chain of
neighbours, which union-find closes transitively. Pairs are then filtered on the
signature-estimated Jaccard; the exact trigram rule (clusters.py) decides.

Measured: 99.3% of 1,000 pairs at containment 1/2 (Jaccard ~1/3) become candidates
(tests/reduce/test_lsh.py asserts >= 95%). Known blind spot: a short text inside a much
longer one meets the rule at low Jaccard (50 trigrams in 250: J = 0.2) and is often
missed. That only lowers `duplicates`; selection walks apply the exact rule to every
pool sample, without LSH.

This module knows nothing about texts, samples, storage or the de-dup rule itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memx.reduce.trigrams import mix64


@dataclass(frozen=True)
class LshParams:
    bands: int = 40
    rows: int = 2
    seed: int = 0x5EED
    small_bucket: int = 16  # all pairs inside buckets up to this size
    min_jaccard: float = 0.15  # 3.4 sigma below 1/3 at 80 permutations

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows


def _permutations(params: LshParams) -> tuple[np.ndarray, np.ndarray]:
    base = np.arange(2 * params.num_perm, dtype=np.uint64) + np.uint64(params.seed) * np.uint64(1_000_003)
    draws = (mix64(mix64(base)) >> np.uint64(32)).astype(np.uint32)
    return draws[: params.num_perm] | np.uint32(1), draws[params.num_perm :]


def signatures(hashes: np.ndarray, offsets: np.ndarray, params: LshParams) -> np.ndarray:
    """(texts, num_perm) uint32 minima; every text must own at least one gram.

    32-bit arithmetic on the top half of each gram hash: half the memory traffic of
    64-bit, and one in-place multiply-add + reduceat per permutation is ~15x faster than
    broadcasting blocks of permutations. Two distinct grams share a 32-bit value with
    probability 2^-32, which only nudges a Jaccard estimate.
    """
    n = len(offsets) - 1
    out = np.empty((params.num_perm, n), dtype=np.uint32)
    if n == 0:
        return out.T.copy()
    a, b = _permutations(params)
    h32 = (hashes >> np.uint64(32)).astype(np.uint32)
    values = np.empty_like(h32)
    starts = offsets[:-1]
    with np.errstate(over="ignore"):
        for k in range(params.num_perm):
            np.multiply(h32, a[k], out=values)
            values += b[k]
            out[k] = np.minimum.reduceat(values, starts)
    return np.ascontiguousarray(out.T)


def band_key(sig: np.ndarray, band: int, params: LshParams) -> np.ndarray:
    """uint64 bucket key of every text in one band, salted by the band index."""
    salt = ((band + 1) * 0x9E3779B97F4A7C15) % (1 << 64)
    h = np.full(sig.shape[0], salt, dtype=np.uint64)
    for row in range(params.rows):
        h = mix64(h ^ sig[:, band * params.rows + row].astype(np.uint64))
    return h


def _bucket_pairs(keys: np.ndarray, small_bucket: int) -> np.ndarray:
    order = np.argsort(keys, kind="stable")  # stable: members stay in text order
    sk = keys[order]
    n = len(sk)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    boundary = np.ones(n, dtype=bool)
    boundary[1:] = sk[1:] != sk[:-1]
    group = np.cumsum(boundary) - 1
    group_start = np.flatnonzero(boundary)
    size = np.diff(np.append(group_start, n))[group]
    parts = []
    # chain: neighbours (always), then every pair of small buckets
    for k in range(1, small_bucket):
        if k >= n:
            break
        same = group[:-k] == group[k:]
        if k > 1:
            same &= size[:-k] <= small_bucket
        if not same.any():
            break
        idx = np.flatnonzero(same)
        parts.append(np.stack([order[idx], order[idx + k]], axis=1))
    big = np.flatnonzero((size > small_bucket) & ~boundary)
    if len(big):
        parts.append(np.stack([order[group_start[group[big]]], order[big]], axis=1))
    return np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.int64)


def candidate_pairs(sig: np.ndarray, params: LshParams) -> np.ndarray:
    """Distinct (i, j), i < j, of texts sharing a bucket in at least one band."""
    found = [_bucket_pairs(band_key(sig, band, params), params.small_bucket) for band in range(params.bands)]
    pairs = np.concatenate(found) if found else np.zeros((0, 2), dtype=np.int64)
    if len(pairs) == 0:
        return pairs.astype(np.int64)
    pairs = np.sort(pairs.astype(np.int64), axis=1)
    n = max(int(sig.shape[0]), 1)
    codes = np.unique(pairs[:, 0] * n + pairs[:, 1])  # one int64 per pair: a fast unique
    return np.stack([codes // n, codes % n], axis=1)


def estimate_jaccard(sig: np.ndarray, pairs: np.ndarray, chunk: int = 65_536) -> np.ndarray:
    out = np.empty(len(pairs), dtype=np.float32)
    for lo in range(0, len(pairs), chunk):
        p = pairs[lo : lo + chunk]
        out[lo : lo + chunk] = (sig[p[:, 0]] == sig[p[:, 1]]).mean(axis=1)
    return out
