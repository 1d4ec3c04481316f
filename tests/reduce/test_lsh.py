"""MinHash LSH clusters equal the exact rule's clusters on a few thousand samples."""

from collections import defaultdict

import numpy as np

from memx.config import SelectionConfig
from memx.reduce import run_reduce
from memx.reduce.clusters import UnionFind
from memx.reduce.minhash import LshParams, candidate_pairs
from memx.reduce.trigrams import trigrams
from tests.support.run_reader import InMemoryRunReader

from .synth import make_run


def exact_links(texts: list[str]) -> set[tuple[int, int]]:
    """Every pair (i < j) where one duplicates the other: the quadratic definition,
    computed through an inverted index over tuple trigrams (same result, less time)."""
    tri = [trigrams(t) for t in texts]
    postings = defaultdict(list)
    for i, t in enumerate(tri):
        for gram, count in t.items():
            postings[gram].append((i, count))
    shared = defaultdict(int)
    for plist in postings.values():
        if len(plist) > 200:  # never the case here; guards the test's own cost
            raise AssertionError("unexpectedly common trigram")
        for a in range(len(plist)):
            for b in range(a + 1, len(plist)):
                (i, ci), (j, cj) = plist[a], plist[b]
                shared[(min(i, j), max(i, j))] += min(ci, cj)
    sizes = [sum(t.values()) for t in tri]
    return {(i, j) for (i, j), inter in shared.items() if 2 * inter >= min(sizes[i], sizes[j])}


def test_lsh_clusters_match_exact_clusters():
    samples, scores, planted = make_run(1500, groups=40, seed=3)
    result = run_reduce(InMemoryRunReader(samples, scores), ["zlib"], SelectionConfig(pool=50, per_config=10))
    texts = samples.column("text").to_pylist()
    ids = samples.column("sample_id").to_pylist()
    # reading order == table order here (strategy blocks, shards in order)
    assert [b[2] for b in result.shard_bases] == sorted(b[2] for b in result.shard_bases)
    links = exact_links(texts)
    assert links, "the planted groups must produce links"
    uf = UnionFind(len(texts))
    for i, j in links:
        uf.union(i, j)
    exact = uf.labels()
    labels = result.labels
    recall = np.mean([labels[i] == labels[j] for i, j in links])
    assert recall == 1.0
    np.testing.assert_array_equal(labels, exact)  # no false merge: every link was confirmed
    position = {sid: k for k, sid in enumerate(ids)}
    for group in planted:
        members = [position[sid] for sid in group]
        assert len({labels[m] for m in members}) == 1


def test_candidate_pairs_cover_small_and_large_buckets():
    params = LshParams(bands=1, rows=1, small_bucket=3)
    keys = np.array([[5], [5], [5], [7], [9], [9], [9], [9], [9]], dtype=np.uint64)
    pairs = {tuple(p) for p in candidate_pairs(keys, params).tolist()}
    assert {(0, 1), (0, 2), (1, 2)} <= pairs  # small bucket: all pairs
    assert not any(3 in p for p in pairs)
    big = {p for p in pairs if p[0] >= 4}
    assert {(4, 5), (5, 6), (6, 7), (7, 8), (4, 6), (4, 7), (4, 8)} == big  # chain + star


def test_lsh_tuning_catches_pairs_at_the_rule_threshold():
    """Pairs at containment ~1/2 (Jaccard ~1/3) survive banding + the estimate filter."""
    from memx.reduce.minhash import estimate_jaccard, signatures
    from memx.reduce.trigrams import gram_hashes

    texts = []
    for k in range(300):
        words = [f"t{k}x{i}" for i in range(302)]
        shared, left, right = words[:102], words[102:202], words[202:]
        texts += [" ".join(shared + left), " ".join(shared + right)]
    assert is_duplicate_pair(texts[0], texts[1])
    params = LshParams()
    h, o = gram_hashes(texts)
    sig = signatures(h, o, params)
    pairs = candidate_pairs(sig, params)
    pairs = pairs[estimate_jaccard(sig, pairs) >= params.min_jaccard]
    found = {tuple(p) for p in pairs.tolist()}
    recall = np.mean([(2 * k, 2 * k + 1) in found for k in range(300)])
    assert recall >= 0.95, recall  # theory: 99.1%
    assert len(found) <= 300 + 5  # unrelated texts (no shared trigram) are not paired


def is_duplicate_pair(a: str, b: str) -> bool:
    from memx.reduce.trigrams import is_duplicate

    return is_duplicate(a, b) and is_duplicate(b, a)
