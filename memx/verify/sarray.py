"""Batched longest-prefix search over infini-gram's on-disk suffix arrays, in numpy.

For many query positions at once, `ShardSearcher.prefix_lengths` returns the length of
the longest prefix of buf[pos:] that occurs in one shard: a lower-bound binary search of
every query in lock-step over the memory-mapped suffix array (`table.{i}`, little-endian
pointers of ⌈log2(size)/8⌉ bytes into `tokenized.{i}`), keeping the common-prefix length
with both bounds (the Manber–Myers trick) so no byte is compared twice. The longest
match is the larger common prefix with the two neighbours of the insertion point.

Why not infini-gram's own `find`/`creativity`: each call spawns threads and costs
hundreds of microseconds, and verification needs ~10^6 prefix queries; here one numpy
pass serves them all. This module knows the v4 `u8` file layout only; building the
index and choosing query positions belong to `memx.index` and `memx.verify.spans`.
Queries must end with a byte that never occurs in the corpus (0xFE: invalid in UTF-8)
so every comparison stops at the query's end.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SENTINEL = 0xFE
_BLOCK = 8  # bytes compared in the first round: most comparisons end there
_LONG_BLOCK = 64  # later rounds: only long shared prefixes are left, read them in bigger steps
_CHUNK = 200_000  # queries per pass, bounding the (queries x block) temporaries


class ShardSearcher:
    def __init__(self, tokenized: Path, table: Path):
        self.ds = np.memmap(tokenized, dtype=np.uint8, mode="r")
        self.n = len(self.ds)
        sa = np.memmap(table, dtype=np.uint8, mode="r")
        if self.n == 0 or len(sa) % self.n:
            raise ValueError(f"{table}: size {len(sa)} is not a multiple of {tokenized} size {self.n}")
        self.ptr_size = len(sa) // self.n
        self.sa = sa
        # power-of-two pointer widths read as integers (one gather, no shifts) through a view
        # of the same mapping: a second one would count its pages twice in the process's RSS
        self._sa_int = None
        if self.ptr_size in (1, 2, 4, 8):
            self._sa_int = sa.view(f"<u{self.ptr_size}")
        self._shifts = (8 * np.arange(self.ptr_size)).astype(np.int64)
        self._ptr_cols = np.arange(self.ptr_size, dtype=np.int64)

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

    def prefix_lengths(self, buf: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Longest corpus-prefix length of buf[p:] for each p in `pos` (int64 array).

        `buf` is uint8 with a SENTINEL after every query and _LONG_BLOCK bytes of padding at the end.
        """
        out = np.zeros(len(pos), dtype=np.int64)
        for s in range(0, len(pos), _CHUNK):
            out[s:s + _CHUNK] = self._search(buf, pos[s:s + _CHUNK].astype(np.int64))
        return out

    def _search(self, buf: np.ndarray, pos: np.ndarray) -> np.ndarray:
        q = len(pos)
        lo = np.full(q, -1, dtype=np.int64)
        hi = np.full(q, self.n, dtype=np.int64)
        lcp_lo = np.zeros(q, dtype=np.int64)
        lcp_hi = np.zeros(q, dtype=np.int64)
        act = np.arange(q)
        while act.size:
            mid = (lo[act] + hi[act]) // 2
            ptr = self._pointers(mid)
            known = np.minimum(lcp_lo[act], lcp_hi[act])  # shared by every suffix in (lo, hi)
            lcp = np.empty(act.size, dtype=np.int64)
            less = np.empty(act.size, dtype=bool)
            pend = np.arange(act.size)
            off = known.copy()
            width = _BLOCK
            while pend.size:
                o = off[pend]
                qb = buf[(pos[act[pend]] + o)[:, None] + np.arange(width)].astype(np.int16)
                cb = self._corpus_block(ptr[pend] + o, width)
                neq = qb != cb
                hit = neq.any(axis=1)
                first = neq.argmax(axis=1)
                done = pend[hit]
                rows = np.nonzero(hit)[0]
                f = first[hit]
                lcp[done] = o[hit] + f
                less[done] = cb[rows, f] < qb[rows, f]  # suffix sorts before the query
                pend = pend[~hit]
                off[pend] += width  # the sentinel guarantees these end in a later block
                width = _LONG_BLOCK
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
        hi = np.full(q, self.n, dtype=np.int64)
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
