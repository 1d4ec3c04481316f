"""The reader of memx's byte-level verification index (built by `memx.index`): exact
counts and longest-prefix queries across every shard of one directory or a list of them,
in batches (`memx.verify.spans` turns the latter into the token (docs/formulas.md#span) spans).

It reads only memx's own u8 layout, checked through `index.json`; token-level indexes
(docs/indexes.md) are `memx.verify.tokenindex`'s. Knows nothing about tokenizers or candidates,
nor about object stores: the index directory is a local path.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from memx.errors import ConfigError
from memx.verify.sarray import ShardSearcher, count_in_shards, pack_queries

DOC_SEP = b"\xff"  # never occurs in UTF-8, so no match can span two documents
FORMAT = "memx-infini-gram-u8"  # index.json `format`: byte-level (u8) infini-gram v4 shards


class CorpusIndex:
    """Queries over a built index; every position and length is in the query's own text."""

    def __init__(self, index_dir: str | Path | list[str | Path]):
        """One index directory, or a list of them: shards of one corpus, searched as one."""
        self.dirs = [Path(d) for d in index_dir] if isinstance(index_dir, (list, tuple)) else [Path(index_dir)]
        self.dir = self.dirs[0]
        self._shards = []
        for directory in self.dirs:
            meta = self._meta_of(directory)
            self._shards += [ShardSearcher(directory / f"tokenized.{i}", directory / f"table.{i}")
                             for i in range(int(meta["shards"]))]
            if directory == self.dir:
                self.meta = meta  # the first directory's, for people reading it

    @staticmethod
    def _meta_of(directory: Path) -> dict:
        meta_path = directory / "index.json"
        if not meta_path.is_file():
            raise ConfigError(f"verify.index: {directory}: no index.json (missing or incomplete; "
                              "run `memx index build`)")
        meta = json.loads(meta_path.read_text())
        found = (meta.get("format"), meta.get("token_dtype"))
        if found != (FORMAT, "u8"):  # the byte-level layout; token indexes are memx.verify.tokenindex's
            raise ConfigError(f"verify.index: {directory}: an index made for another format (format {found[0]!r}, "
                              f"token_dtype {found[1]!r}; memx reads {FORMAT!r}, u8): build one with `memx index build`")
        return meta

    def count(self, text: str) -> int:
        """Occurrences of the exact UTF-8 bytes of `text` in the corpus (overlaps included)."""
        return self.count_bytes(text.encode("utf-8"))

    def count_bytes(self, data: bytes) -> int:
        """Occurrences of the exact bytes `data` in the corpus (overlaps included)."""
        return int(self.count_many([data])[0])

    def count_many(self, datas: list[bytes]) -> np.ndarray:
        """`count_bytes` of each of `datas` (int64), in one batched search; 0 for b""."""
        buf, starts = pack_queries(datas)
        return self.count_packed(buf, starts, np.array([len(d) for d in datas], dtype=np.int64))

    def count_packed(self, buf: np.ndarray, pos: np.ndarray, lens: np.ndarray) -> np.ndarray:
        """Occurrences of each buf[p:p+n] in a `sarray.pack_queries` buffer; 0 where n == 0."""
        return count_in_shards(self._shards, buf, pos, lens)

    def prefix_lengths(self, datas: list[bytes], offsets: list[np.ndarray]) -> list[np.ndarray]:
        """For each datas[i] and each l in offsets[i], the longest n with datas[i][l:l+n] in
        the corpus. One batched search for all of them: the way to query in bulk."""
        buf, starts = pack_queries(datas)
        offs = [np.asarray(o, dtype=np.int64) for o in offsets]
        if not offs or sum(len(o) for o in offs) == 0:
            return [np.zeros(len(o), dtype=np.int64) for o in offs]
        pos = np.concatenate([starts[i] + o for i, o in enumerate(offs)])
        return np.split(self.prefix_lengths_packed(buf, pos), np.cumsum([len(o) for o in offs])[:-1])

    def prefix_lengths_packed(self, buf: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Longest n with buf[p:p+n] in the corpus, for each p in `pos`, over a
        `sarray.pack_queries`-style buffer (every query ends with its SENTINEL)."""
        best = np.zeros(len(pos), dtype=np.int64)
        for shard in self._shards:
            np.maximum(best, shard.prefix_lengths(buf, np.asarray(pos, dtype=np.int64)), out=best)
        return best
