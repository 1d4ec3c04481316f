"""The span (docs/formulas.md#span) rule over a whole shard of generated samples, in one batched search.

`generated_spans(token_ids, table, index)` returns, for every sample, the longest run of
consecutive generated tokens whose concatenated bytes occur verbatim in the corpus:
`match_tokens`, `match_start`, `match_end` (token positions, end exclusive) and
`corpus_count` (occurrences of the span's bytes). Special tokens have no bytes and break
a span; of equally long spans the leftmost wins; no match gives zeros everywhere.

How: the shard's tokens become one byte buffer (each sample's tokens' exact bytes, a
SENTINEL in place of every special token and after every sample, so no match can cross
either), the index reports for every token's first byte the longest prefix found in the
corpus, and that prefix covers tokens k..m-1 exactly when token m-1 ends inside it. Any
substring of a corpus string is in the corpus, so the best k is the exact answer. Work
is on bytes throughout: a byte-level token may hold half a UTF-8 character.

It takes the prompt-free `token_ids` only (a copied prompt must never count) and knows
nothing about shards, storage, scores or where the index lives.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from memx.verify.sarray import _LONG_BLOCK, SENTINEL
from memx.verify.tokenbytes import PackedTable

SPAN_COLUMNS = ("match_tokens", "match_start", "match_end", "corpus_count")
# First-pass query spacing: 4 cut queries from 256 to ~73 per 256-token sample and was the
# fastest of 1, 2, 4, 8 in tests/bench/bench_verify_all.py (half planted, half random).
_STRIDE = 4


def flatten_token_ids(token_ids) -> tuple[np.ndarray, np.ndarray]:
    """(every id in order as int64, offsets of each sample's first id plus the total)."""
    if isinstance(token_ids, pa.ChunkedArray):
        token_ids = token_ids.combine_chunks()
    if isinstance(token_ids, (pa.ListArray, pa.LargeListArray)):
        offsets = token_ids.offsets.to_numpy().astype(np.int64)
        flat = token_ids.values.to_numpy(zero_copy_only=False).astype(np.int64)
        return flat[offsets[0]:offsets[-1]], offsets - offsets[0]
    sizes = np.fromiter((len(t) for t in token_ids), dtype=np.int64, count=len(token_ids))
    offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    flat = np.fromiter((i for t in token_ids for i in t), dtype=np.int64, count=int(offsets[-1]))
    return flat, offsets


def hide_before(flat: np.ndarray, offsets: np.ndarray, span_from) -> np.ndarray:
    """`flat` with every sample's tokens before its `span_from` replaced by -1, an id no
    table knows: they count as special, so no span holds them and `match_start >=
    span_from` (a divergence sample's repeated word is never evidence). None: unchanged."""
    if span_from is None:
        return flat
    if isinstance(span_from, (pa.ChunkedArray, pa.Array)):
        span_from = span_from.to_numpy(zero_copy_only=False)
    span_from = np.asarray(span_from, dtype=np.int64)
    sample_of = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    hidden = np.arange(len(flat)) - offsets[sample_of] < span_from[sample_of]
    return np.where(hidden, -1, flat) if hidden.any() else flat


def _as_packed(table) -> PackedTable:
    return table if isinstance(table, PackedTable) else PackedTable(table)


def _layout(flat: np.ndarray, offsets: np.ndarray, packed: PackedTable):
    """The shard's byte buffer and each token's [start, end) in it, plus its special flag.

    Ids the table does not cover (a model vocabulary padded past its tokenizer's) count
    as special: they stand for no known bytes.
    """
    known = (flat >= 0) & (flat < len(packed))
    safe = np.where(known, flat, 0)
    special = ~known | packed.special[safe]
    size = np.where(special, 1, packed.length[safe])  # a special token is one SENTINEL byte
    sample_of = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    start = np.zeros(len(flat), dtype=np.int64)
    if len(flat):
        np.cumsum(size[:-1], out=start[1:])
    start += sample_of  # one SENTINEL after each earlier sample
    total = int(start[-1] + size[-1]) + 1 if len(flat) else 0
    buf = np.full(total + _LONG_BLOCK, SENTINEL, dtype=np.uint8)  # padding: searches read ahead
    real = np.nonzero(~special)[0]
    lens = packed.length[safe[real]]
    # every byte of every real token, as (place in its token) from one arange
    within = np.arange(int(lens.sum()), dtype=np.int64) - np.repeat(np.cumsum(lens) - lens, lens)
    buf[np.repeat(start[real], lens) + within] = packed.data[np.repeat(packed.offset[safe[real]], lens) + within]
    return buf, start, start + size, special, sample_of


def _first_best(n: np.ndarray, sample_of: np.ndarray, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Per sample, the largest n and the global index of its first (leftmost) token."""
    best = np.zeros(n_samples, dtype=np.int64)
    np.maximum.at(best, sample_of, n)
    at = np.zeros(n_samples, dtype=np.int64)
    hits = np.nonzero((n == best[sample_of]) & (n > 0))[0]
    owners, first = np.unique(sample_of[hits], return_index=True)  # hits are in token order
    at[owners] = hits[first]
    return best, at


def _token_runs(buf, start, end, special, sample_of, offsets, index, stride: int, value=None) -> np.ndarray:
    """n[k]: how many tokens from k on lie in the longest corpus match at k's first byte,
    exact wherever it can matter for the sample's best (leftmost) run, 0 elsewhere.

    m[k] = k + n[k] never decreases along a segment (the match from k, less its first
    token, is a match from k+1), so after querying every `stride`-th token q the others
    are bounded: m[k] <= m[next q], and m[k] == m[prev q] when both neighbours agree.
    A second search covers only the tokens whose bound could still beat or tie-left the
    best run found, which for most samples is a small share. "Best" is the most tokens,
    or the largest `value(k, n)` (any measure that grows with n and is 0 at n = 0).
    """
    value = value or (lambda k, n: n)
    k = np.arange(len(start))
    queryable = ~special & (end > start)  # a byte-less token starts no run
    first = queryable & ((k - offsets[sample_of]) % stride == 0)
    n = np.zeros(len(start), dtype=np.int64)
    n[first] = _query(buf, start, end, np.nonzero(first)[0], index)
    if stride == 1:
        return n
    m = np.where(first, k + n, -1)
    # segments: maximal runs without a special token or a sample start inside them
    seg = np.cumsum(special | (k == offsets[sample_of]))
    seg_stop = np.searchsorted(seg, seg, side="right")  # first index past k's segment
    nxt = np.minimum.accumulate(np.where(first, k, len(k))[::-1])[::-1]
    prv = np.maximum.accumulate(np.where(first, k, -1))
    nxt_in = (nxt < seg_stop)
    upper = np.where(nxt_in, m[np.minimum(nxt, len(k) - 1)], seg_stop) - k
    prv_in = (prv >= 0) & (seg[np.maximum(prv, 0)] == seg)
    settled = ~first & queryable & prv_in & nxt_in & (m[np.maximum(prv, 0)] == upper + k)
    n[settled] = upper[settled]
    best, at = _first_best(value(k, n), sample_of, len(offsets) - 1)
    b, a = best[sample_of], at[sample_of]
    bound = value(k, np.where(queryable, upper, 0))
    rest = np.nonzero(~first & ~settled & queryable & ((bound > b) | ((bound == b) & (k < a))))[0]
    n[rest] = _query(buf, start, end, rest, index)
    return n


def _query(buf, start, end, tokens, index) -> np.ndarray:
    """n for each of `tokens`: the whole tokens inside the corpus match at its first byte."""
    reach = start[tokens] + index.prefix_lengths_packed(buf, start[tokens])
    # ends are non-decreasing and a SENTINEL (special token, sample end) is never
    # matched, so the count of tokens ending inside the match never passes one
    return np.searchsorted(end, reach, side="right") - tokens


def generated_spans(token_ids, table, index, *, stride: int = _STRIDE, span_from=None) -> dict[str, np.ndarray]:
    """docs/formulas.md#span span of each sample's generated tokens: SPAN_COLUMNS as numpy arrays.

    `token_ids`: a list of id lists or a pyarrow list array (a samples shard's column);
    `table`: `token_byte_table(tokenizer)` or its `PackedTable`; `index`: a CorpusIndex.
    `stride` only trades first-pass against second-pass queries: any value >= 1 gives
    the same result. `span_from` (one int per sample, or None for 0): the first token a span
    may hold.
    """
    flat, offsets = flatten_token_ids(token_ids)
    flat = hide_before(flat, offsets, span_from)
    buf, start, end, special, sample_of = _layout(flat, offsets, _as_packed(table))
    return spans_of_layout(buf, start, end, special, sample_of, offsets, index, stride)


def longest_runs(buf, start, end, special, sample_of, offsets, index, stride: int = _STRIDE, value=None):
    """Per sample, the length of its longest (leftmost) run of consecutive units found in
    the index and the global number of its first unit, over a layout: `buf` holds every
    unit's bytes at [start, end), `special` units break runs, `sample_of` and `offsets`
    say whose each is. A unit is a target token (`_layout`, or a token index's own ids)
    or an index token of re-tokenized text (`memx.verify.bridge`). With `value(k, n)`,
    the run of largest value instead, and (value, first unit, its length in units)."""
    n = _token_runs(buf, start, end, special, sample_of, offsets, index, stride, value)
    if value is None:
        return _first_best(n, sample_of, len(offsets) - 1)
    best, at = _first_best(value(np.arange(len(n)), n), sample_of, len(offsets) - 1)
    return best, at, n[at]


def spans_of_layout(buf, start, end, special, sample_of, offsets, index, stride: int = _STRIDE) -> dict[str, np.ndarray]:
    """SPAN_COLUMNS of every sample of a layout whose units are the sample's tokens."""
    n_samples = len(offsets) - 1
    out = {"match_tokens": np.zeros(n_samples, dtype=np.int32),
           "match_start": np.zeros(n_samples, dtype=np.int32),
           "match_end": np.zeros(n_samples, dtype=np.int32),
           "corpus_count": np.zeros(n_samples, dtype=np.int64)}
    if not len(start):
        return out
    best, at = longest_runs(buf, start, end, special, sample_of, offsets, index, stride)
    found = np.nonzero(best > 0)[0]
    first, last = at[found], at[found] + best[found] - 1
    out["match_tokens"][found] = best[found]
    out["match_start"][found] = first - offsets[found]
    out["match_end"][found] = first - offsets[found] + best[found]
    out["corpus_count"][found] = index.count_packed(buf, start[first], end[last] - start[first])
    return out
