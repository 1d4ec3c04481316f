"""The paper's fuzzy de-duplication rule on word trigrams, exact and hashed.

Words: maximal runs of Unicode letters, combining marks and digits (categories L*, M*,
N*); everything else (whitespace, punctuation, symbols, `_`) separates words. One
definition, `WORD_SEPARATORS`, is used by the readable path (`words`, `trigrams`,
`is_duplicate`) and the vectorized one (`gram_hashes`), so both split alike. Case is kept.

tri(s) is the multiset of consecutive word triples of s. s1 duplicates s2 when
|tri(s1) ∩ tri(s2)| >= |tri(s1)| / 2 (multiset intersection: sum of the smaller
multiplicity per trigram). The rule is asymmetric: a short text inside a long one
duplicates it, not the reverse.

Degenerate case, decided here: a text with fewer than 3 words has no trigram, and the
literal rule (0 >= 0) would make it a duplicate of everything. Instead its grams are the
single gram "its whole word sequence" (the empty sequence for a text with no word). So a
text with < 3 words duplicates exactly the texts with the same word sequence, and no long
text duplicates it.

The hashed path maps each gram to a 64-bit hash; the rule on hashes equals the rule on
tuples except for 64-bit collisions (probability ~1e-15 per pair of grams). This module
knows nothing about samples, shards, scores or MinHash.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

WORD_SEPARATORS = r"[^\pL\pM\pN]+"

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_K1 = np.uint64(0x9E3779B97F4A7C15)
_K2 = np.uint64(0xC2B2AE3D27D4EB4F)
_K3 = np.uint64(0x165667B19E3779F9)
_SHORT = np.uint64(0xD6E8FEB86659FD93)  # keeps < 3-word grams apart from real trigrams
_POLY = np.uint64(0x100000001B3)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer, elementwise on uint64 (wrapping arithmetic is intended)."""
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
        return x ^ (x >> np.uint64(31))


def _split(texts: pa.Array) -> pa.ListArray:
    return pc.split_pattern_regex(texts, pattern=WORD_SEPARATORS)


def words(text: str) -> list[str]:
    return [w for w in _split(pa.array([text], pa.string()))[0].as_py() if w]


def trigrams(text: str) -> Counter:
    """tri(s) as a Counter of word tuples (with the degenerate gram for < 3 words)."""
    ws = words(text)
    if len(ws) < 3:
        return Counter([tuple(ws)])
    return Counter(zip(ws, ws[1:], ws[2:]))


def overlap(a: Counter, b: Counter) -> int:
    return sum((a & b).values())


def is_duplicate(s1: str, s2: str) -> bool:
    """The paper's rule: s1 duplicates s2 (asymmetric)."""
    t1 = trigrams(s1)
    return 2 * overlap(t1, trigrams(s2)) >= sum(t1.values())


# ---------------------------------------------------------------- hashed, vectorized


_ASCII_WORD = np.zeros(256, dtype=bool)
for _lo, _hi in ((48, 57), (65, 90), (97, 122)):
    _ASCII_WORD[_lo : _hi + 1] = True  # in ASCII, L/M/N are exactly [0-9A-Za-z]


def _hash_words(wbytes: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """One 64-bit hash per word; word i is the next lengths[i] bytes of wbytes."""
    if len(lengths) == 0:
        return np.zeros(0, dtype=np.uint64)
    starts = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    position = np.arange(len(wbytes)) - np.repeat(starts, lengths)
    powers = np.ones(int(lengths.max()) + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        if len(powers) > 1:
            powers[1:] = np.cumprod(np.full(len(powers) - 1, _POLY, dtype=np.uint64))
        contrib = (wbytes.astype(np.uint64) + np.uint64(1)) * powers[position]
        h = np.add.reduceat(contrib, starts)
        return mix64(h ^ (lengths.astype(np.uint64) * _K2))


def _string_buffers(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    texts = texts.cast(pa.large_string())
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64)[texts.offset : texts.offset + len(texts) + 1]
    data = texts.buffers()[2]
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    return data, offsets


def _words_ascii(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(word hashes, owning text) for ASCII-only texts, straight from the bytes."""
    data, offsets = _string_buffers(texts)
    data = data[offsets[0] : offsets[-1]]
    offsets = offsets - offsets[0]
    isword = _ASCII_WORD[data]
    begins = isword.copy()
    begins[1:] &= ~isword[:-1]
    text_starts = offsets[:-1][offsets[:-1] < len(data)]
    begins[text_starts] = isword[text_starts]  # a word never spans two texts
    word_starts = np.flatnonzero(begins)
    word_id = np.cumsum(begins)[isword] - 1
    lengths = np.bincount(word_id, minlength=len(word_starts)).astype(np.int64)
    owner = np.searchsorted(offsets, word_starts, side="right") - 1
    return _hash_words(data[isword], lengths), owner


def _words_regex(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(word hashes, owning text) through the Unicode-aware RE2 split."""
    lists = _split(texts)
    flat = pc.list_flatten(lists)
    per_text = pc.list_value_length(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    owner = np.repeat(np.arange(len(texts)), per_text)
    keep = pc.greater(pc.binary_length(flat), 0)
    flat = pc.filter(flat, keep)
    data, offsets = _string_buffers(flat)
    return _hash_words(data[offsets[0] : offsets[-1]], np.diff(offsets)), owner[keep.to_numpy(zero_copy_only=False)]


def gram_hashes(texts: pa.Array | list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Hashed tri(s) of every text: (hashes uint64, offsets int64 of len(texts) + 1).

    Text i owns hashes[offsets[i]:offsets[i+1]], in word order (not sorted). A text with
    < 3 words owns exactly one gram, the hash of its whole word sequence.
    """
    if not isinstance(texts, (pa.Array, pa.ChunkedArray)):
        texts = pa.array(texts, pa.string())
    if isinstance(texts, pa.ChunkedArray):
        texts = pa.concat_arrays(texts.chunks) if texts.num_chunks else pa.array([], pa.string())
    n = len(texts)
    texts = pc.fill_null(texts, "")
    ascii_mask = pc.string_is_ascii(texts).to_numpy(zero_copy_only=False) if n else np.zeros(0, bool)
    wh, owner = _words_ascii(pc.filter(texts, pa.array(ascii_mask)))
    owner = np.flatnonzero(ascii_mask)[owner]
    if not ascii_mask.all():
        # RE2 with Unicode classes is ~10x slower, so it only sees the non-ASCII texts
        other = np.flatnonzero(~ascii_mask)
        wh2, owner2 = _words_regex(pc.filter(texts, pa.array(~ascii_mask)))
        wh, owner = np.concatenate([wh, wh2]), np.concatenate([owner, other[owner2]])
        order = np.argsort(owner, kind="stable")
        wh, owner = wh[order], owner[order]
    counts = np.bincount(owner, minlength=n).astype(np.int64)
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    with np.errstate(over="ignore"):
        # trigram i = words i, i+1, i+2 of the same text
        if len(wh) >= 3:
            same = owner[:-2] == owner[2:]
            tri = mix64((wh[:-2] * _K1) ^ (wh[1:-1] * _K2) ^ (wh[2:] * _K3))[same]
            tri_owner = owner[:-2][same]
        else:
            tri, tri_owner = wh[:0], owner[:0]
        short = np.flatnonzero(counts < 3)
        # degenerate gram: hash of the 0-2 words, salted by the word count
        padded = np.concatenate([wh, np.zeros(2, np.uint64)])
        first = np.where(counts[short] >= 1, padded[starts[short]], np.uint64(0))
        second = np.where(counts[short] >= 2, padded[starts[short] + 1], np.uint64(0))
        degenerate = mix64(_SHORT ^ (counts[short].astype(np.uint64) * _K3) ^ (first * _K1) ^ (second * _K2))
    if len(short) == 0:
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(tri_owner, minlength=n), out=offsets[1:])
        return tri, offsets
    all_owner = np.concatenate([tri_owner, short])
    all_hash = np.concatenate([tri, degenerate])
    order = np.argsort(all_owner, kind="stable")
    hashes = all_hash[order]
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(all_owner, minlength=n), out=offsets[1:])
    return hashes, offsets


def gram_multiset(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct gram hashes, multiplicities) of one text."""
    return np.unique(hashes, return_counts=True)


def hashed_overlap(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> int:
    """|A ∩ B| for two multisets given as (sorted distinct values, counts)."""
    (ua, ca), (ub, cb) = a, b
    if len(ua) == 0 or len(ub) == 0:
        return 0
    idx = np.searchsorted(ub, ua)
    idx[idx == len(ub)] = 0
    hit = ub[idx] == ua
    return int(np.minimum(ca[hit], cb[idx[hit]]).sum())
