"""Batched longest-prefix search over infini-gram's on-disk suffix arrays, in numpy.

For many query positions at once, `ShardSearcher.prefix_lengths` returns the length of
the longest prefix of buf[pos:] that occurs in one shard: a lower-bound binary search of
every query in lock-step over the memory-mapped suffix array (`table.{i}`, little-endian
pointers of ⌈log2(size)/8⌉ bytes into `tokenized.{i}`), keeping the common-prefix length
with both bounds (the Manber–Myers trick) so no byte is compared twice. The longest
match is the larger common prefix with the two neighbours of the insertion point. Each
search starts from a bracket found among 2^18 sampled suffixes' first 8 bytes held in
RAM, so its first ~18 steps touch no mapped page (1.5x faster alone, and two processes
no longer contend for memory on those random reads).

Why not infini-gram's own `find`/`creativity`: each call spawns threads and costs
hundreds of microseconds, and verification needs ~10^6 prefix queries; here one numpy
pass serves them all. This module knows the v4 file layout of any token width (u8, u16,
u32: `width` bytes a token, pointers that are byte offsets of whole tokens, the table
sorted by the bytes that follow): comparisons are byte-wise, lengths are in bytes, and
the token-level reader (`memx.verify.tokenindex`) rounds them down to whole tokens.
Building the index and choosing query positions belong to `memx.index` and
`memx.verify.spans`. A byte-level query ends with a byte that never occurs in the corpus
(0xFE: invalid in UTF-8); a token-level one, where no such value exists, passes the
end of each query (`limit`) instead, so every comparison stops at the query's end.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

SENTINEL = 0xFE
_BLOCK = 8  # bytes compared in the first round: most comparisons end there
_LONG_BLOCK = 64  # later rounds: only long shared prefixes are left, read them in bigger steps
_CHUNK = 200_000  # queries per pass, bounding the (queries x block) temporaries
_SAMPLE_BITS = 18  # at most 2^18 sampled suffixes per shard (4 MB of keys and ranks)
_MIN_STEP = 64


def _keys(block: np.ndarray) -> np.ndarray:
    """Rows of 8 bytes (-1 past the end of the data) as big-endian uint64 sort keys; past-end
    bytes become 0, which keeps keys in suffix-array order (a suffix that ends sorts first)."""
    b = np.maximum(block, 0).astype(np.uint64)
    return (b << (8 * np.arange(7, -1, -1, dtype=np.uint64))).sum(axis=1, dtype=np.uint64)


def pointer_width(data_bytes: int) -> int:
    """Bytes per suffix-array pointer in infini-gram's v4 layout: ceil(log2(size) / 8)."""
    return max(1, math.ceil(math.log2(data_bytes) / 8)) if data_bytes > 1 else 1


class ShardSearcher:
    def __init__(self, tokenized: Path, table: Path, width: int = 1):
        self.ds = np.memmap(tokenized, dtype=np.uint8, mode="r")
        self.n = len(self.ds)  # bytes
        self.width = width
        if self.n == 0 or self.n % width:
            raise ValueError(f"{tokenized}: size {self.n} is not a positive multiple of the token width {width}")
        self.tokens = self.n // width
        sa = np.memmap(table, dtype=np.uint8, mode="r")
        if len(sa) != self.tokens * pointer_width(self.n):
            raise ValueError(f"{table}: size {len(sa)} is not {self.tokens:,} tokens x {pointer_width(self.n)}-byte "
                             f"pointers (ceil(log2({self.n}) / 8))")
        self.ptr_size = len(sa) // self.tokens
        self.sa = sa
        # power-of-two pointer widths read as integers (one gather, no shifts) through a view
        # of the same mapping: a second one would count its pages twice in the process's RSS
        self._sa_int = None
        if self.ptr_size in (1, 2, 4, 8):
            self._sa_int = sa.view(f"<u{self.ptr_size}")
        self._shifts = (8 * np.arange(self.ptr_size)).astype(np.int64)
        self._ptr_cols = np.arange(self.ptr_size, dtype=np.int64)
        # Every step-th suffix's first 8 bytes as a big-endian integer, in RAM (a few MB at
        # most): the first ~18 levels of every binary search happen here, in cache, instead
        # of as random reads of the mapped index that two processes on a node contend for.
        self._step = max(_MIN_STEP, self.tokens >> _SAMPLE_BITS)
        self._sample_ranks = np.arange(0, self.tokens, self._step, dtype=np.int64)
        self._sample_keys = _keys(self._corpus_block(self._pointers(self._sample_ranks), 8))

    def _pointers(self, ranks: np.ndarray) -> np.ndarray:
        if self._sa_int is not None:
            return self._sa_int[ranks].astype(np.int64)
        raw = self.sa[ranks[:, None] * self.ptr_size + self._ptr_cols]
        return (raw.astype(np.int64) << self._shifts).sum(axis=1)

    def _corpus_block(self, at: np.ndarray, width: int) -> np.ndarray:
        idx = at[:, None] + np.arange(width, dtype=np.int64)
        past = idx >= self.n
        out = self.ds[np.minimum(idx, self.n - 1)].astype(np.int16)
        out[past] = -1  # the end of the data sorts before every byte, as in a suffix array
        return out

    def permutation_problem(self) -> str | None:
        """Why the table is not one pointer to each token position, or None (reads it all,
        in blocks: for tables just built, before they are trusted)."""
        seen = np.zeros(self.tokens, dtype=bool)
        for start in range(0, self.tokens, 1 << 24):
            ptr = self._pointers(np.arange(start, min(start + (1 << 24), self.tokens), dtype=np.int64))
            if (ptr % self.width).any() or ptr.min() < 0 or ptr.max() >= self.n:
                return "a pointer is not a token position"
            seen[ptr // self.width] = True
        missing = int(self.tokens - seen.sum())
        return f"{missing:,} of {self.tokens:,} positions missing" if missing else None

    def order_problem(self, samples: int = 1024, seed: int = 0) -> str | None:
        """Why the table is not a suffix array of the data, judged on `samples` random
        neighbouring ranks (pointers inside the data, on token boundaries, each suffix at
        most its successor), or None. Milliseconds: it runs whenever an index is opened."""
        if self.tokens < 2:
            return None
        rng = np.random.default_rng(seed)
        ranks = np.unique(rng.integers(0, self.tokens - 1, min(samples, self.tokens - 1)))
        a, b = self._pointers(ranks), self._pointers(ranks + 1)
        bad = (a < 0) | (a >= self.n) | (a % self.width != 0) | (b < 0) | (b >= self.n) | (b % self.width != 0)
        if bad.any():
            return f"pointer at rank {int(ranks[bad][0])} is not a token position of the data"
        if (a == b).any():
            return f"ranks {int(ranks[a == b][0])} and {int(ranks[a == b][0]) + 1} hold the same pointer"
        pend, off = np.arange(len(ranks)), 0
        while pend.size and off < 1 << 16:  # suffixes equal this far are not worth deciding
            x, y = self._corpus_block(a[pend] + off, _LONG_BLOCK), self._corpus_block(b[pend] + off, _LONG_BLOCK)
            neq = x != y
            hit = neq.any(axis=1)
            f = neq.argmax(axis=1)
            rows = np.nonzero(hit)[0]
            wrong = x[rows, f[rows]] > y[rows, f[rows]]
            if wrong.any():
                return f"suffixes at ranks {int(ranks[pend[rows[wrong][0]]])} and the next are out of order"
            pend, off = pend[~hit], off + _LONG_BLOCK
        return None

    def prefix_lengths(self, buf: np.ndarray, pos: np.ndarray, limit: np.ndarray | None = None) -> np.ndarray:
        """Longest corpus-prefix length in bytes of buf[p:] for each p in `pos` (int64 array).

        `buf` is uint8 with _LONG_BLOCK bytes of padding at the end and either a SENTINEL
        after every query or, in `limit`, each query's end (exclusive, a position in buf).
        """
        out = np.zeros(len(pos), dtype=np.int64)
        for s in range(0, len(pos), _CHUNK):
            lim = None if limit is None else limit[s:s + _CHUNK].astype(np.int64)
            out[s:s + _CHUNK] = self._search(buf, pos[s:s + _CHUNK].astype(np.int64), lim)
        return out

    def _bracket(self, buf: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) ranks with suffix(lo) < query < suffix(hi), from the sampled keys alone:
        a sampled key strictly below (above) the query's first 8 bytes decides the order."""
        query = _keys(buf[pos[:, None] + np.arange(8)].astype(np.int16))
        below = np.searchsorted(self._sample_keys, query, side="left") - 1
        above = np.searchsorted(self._sample_keys, query, side="right")
        lo = np.where(below >= 0, self._sample_ranks[np.maximum(below, 0)], -1)
        hi = np.where(above < len(self._sample_ranks),
                      self._sample_ranks[np.minimum(above, len(self._sample_ranks) - 1)], self.tokens)
        return lo, hi

    def _compare(self, buf: np.ndarray, qpos: np.ndarray, ptr: np.ndarray,
                 start: np.ndarray, limit: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(common prefix length, suffix sorts before the query) of each query with the suffix
        at `ptr`, the first `start` bytes known equal; a query stops at its `limit` (there
        it is a prefix of the suffix, so the suffix does not sort before it)."""
        lcp = np.empty(len(qpos), dtype=np.int64)
        less = np.empty(len(qpos), dtype=bool)
        pend = np.arange(len(qpos))
        off = start.copy()
        width = _BLOCK
        while pend.size:
            o = off[pend]
            qb = buf[(qpos[pend] + o)[:, None] + np.arange(width)].astype(np.int16)
            cb = self._corpus_block(ptr[pend] + o, width)
            neq = qb != cb
            if limit is not None:
                ended = (qpos[pend] + o)[:, None] + np.arange(width) >= limit[pend][:, None]
                neq |= ended
            hit = neq.any(axis=1)
            first = neq.argmax(axis=1)
            done = pend[hit]
            rows = np.nonzero(hit)[0]
            f = first[hit]
            lcp[done] = o[hit] + f
            less[done] = cb[rows, f] < qb[rows, f]  # suffix sorts before the query
            if limit is not None:
                less[done] &= ~ended[rows, f]
            pend = pend[~hit]
            off[pend] += width  # the sentinel guarantees these end in a later block
            width = _LONG_BLOCK
        return lcp, less

    def _search(self, buf: np.ndarray, pos: np.ndarray, limit: np.ndarray | None) -> np.ndarray:
        q = len(pos)
        lo, hi = self._bracket(buf, pos)
        lcp_lo = np.zeros(q, dtype=np.int64)
        lcp_hi = np.zeros(q, dtype=np.int64)
        # the bracket's ends are real suffixes: their common prefixes are part of the answer
        for end, lcp_end, virtual in ((lo, lcp_lo, -1), (hi, lcp_hi, self.tokens)):
            real = np.nonzero(end != virtual)[0]
            if real.size:
                lcp_end[real] = self._compare(buf, pos[real], self._pointers(end[real]),
                                              np.zeros(real.size, dtype=np.int64),
                                              None if limit is None else limit[real])[0]
        act = np.nonzero(hi - lo > 1)[0]
        while act.size:
            mid = (lo[act] + hi[act]) // 2
            known = np.minimum(lcp_lo[act], lcp_hi[act])  # shared by every suffix in (lo, hi)
            lcp, less = self._compare(buf, pos[act], self._pointers(mid), known,
                                      None if limit is None else limit[act])
            a_less, a_more = act[less], act[~less]
            lo[a_less], lcp_lo[a_less] = mid[less], lcp[less]
            hi[a_more], lcp_hi[a_more] = mid[~less], lcp[~less]
            act = act[hi[act] - lo[act] > 1]
        return np.maximum(lcp_lo, lcp_hi)

    def count(self, buf: np.ndarray, pos: np.ndarray, lens: np.ndarray) -> np.ndarray:
        """Occurrences in this shard of each buf[p:p+n] (p in `pos`, n in `lens`; n >= 1).

        The size of the suffix-array range whose first n bytes equal the query: an upper
        bound search (ties count as smaller) minus a lower bound search (ties as larger).
        """
        out = np.zeros(len(pos), dtype=np.int64)
        for s in range(0, len(pos), _CHUNK):
            p = pos[s:s + _CHUNK].astype(np.int64)
            n = lens[s:s + _CHUNK].astype(np.int64)
            out[s:s + _CHUNK] = self._bound(buf, p, n, upper=True) - self._bound(buf, p, n, upper=False)
        return out

    def _bound(self, buf: np.ndarray, pos: np.ndarray, lens: np.ndarray, upper: bool) -> np.ndarray:
        """Rank of the first suffix whose n-byte prefix is >= the query (> it when `upper`)."""
        q = len(pos)
        lo = np.full(q, -1, dtype=np.int64)
        hi = np.full(q, self.tokens, dtype=np.int64)
        lcp_lo = np.zeros(q, dtype=np.int64)
        lcp_hi = np.zeros(q, dtype=np.int64)
        act = np.arange(q)
        while act.size:
            mid = (lo[act] + hi[act]) // 2
            ptr = self._pointers(mid)
            lcp = np.minimum(lcp_lo[act], lcp_hi[act])
            less = np.empty(act.size, dtype=bool)
            pend = np.arange(act.size)
            width = _BLOCK
            while pend.size:
                o = lcp[pend]
                cols = np.arange(width)
                qb = buf[(pos[act[pend]] + o)[:, None] + cols].astype(np.int16)
                cb = self._corpus_block(ptr[pend] + o, width)
                # past the query's length counts as a difference: the comparison stops there
                neq = (qb != cb) | ((o[:, None] + cols) >= lens[act[pend]][:, None])
                hit = neq.any(axis=1)
                first = neq.argmax(axis=1)
                done, rows, f = pend[hit], np.nonzero(hit)[0], first[hit]
                lcp[done] = np.minimum(o[hit] + f, lens[act[done]])
                equal = lcp[done] == lens[act[done]]
                less[done] = np.where(equal, upper, cb[rows, f] < qb[rows, f])
                pend = pend[~hit]
                lcp[pend] += width
                width = _LONG_BLOCK
            a_less, a_more = act[less], act[~less]
            lo[a_less], lcp_lo[a_less] = mid[less], lcp[less]
            hi[a_more], lcp_hi[a_more] = mid[~less], lcp[~less]
            act = act[hi[act] - lo[act] > 1]
        return hi


def count_in_shards(shards: list[ShardSearcher], buf: np.ndarray, pos, lens) -> np.ndarray:
    """Occurrences of each buf[p:p+n] summed over `shards` (documents never cross shards,
    so counts add up); 0 where n == 0."""
    pos, lens = np.asarray(pos, dtype=np.int64), np.asarray(lens, dtype=np.int64)
    out = np.zeros(len(pos), dtype=np.int64)
    some = np.nonzero(lens > 0)[0]
    if some.size:
        for shard in shards:
            out[some] += shard.count(buf, pos[some], lens[some])
    return out


def pack_queries(datas: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """One buffer of all texts, each followed by SENTINEL, plus each text's start offset."""
    starts = np.zeros(len(datas), dtype=np.int64)
    parts, at = [], 0
    for i, d in enumerate(datas):
        starts[i] = at
        parts.append(d)
        parts.append(bytes([SENTINEL]))
        at += len(d) + 1
    parts.append(bytes([SENTINEL]) * _LONG_BLOCK)
    return np.frombuffer(b"".join(parts), dtype=np.uint8), starts
