"""Token-level infini-gram indexes as they are released: v4, u8/u16/u32, one or many shards,
one directory or several, with or without memx's `index.json` (docs/indexes.md).

`open_token_index(dirs, token_dtype, vocab_size)` checks the layout of every shard before
anything runs (sizes that fit the token width, `offset.{i}` of u64s, pointers of
⌈log2(size)/8⌉ bytes, the separator, every bit set, at the recorded document offsets,
and a sampled order check of each table) and returns a `TokenIndex`: the same batched
queries as the byte-level `memx.verify.byteindex.CorpusIndex` (`prefix_lengths_packed`,
`count_packed`, over one byte buffer), so `memx.verify.spans` drives both. Its buffers
hold little-endian token ids (`pack_token_queries`), each query ended by `end_token`: an
id the tokenizer never uses, which no corpus position matches (comparisons stop inside
it), or, for a vocabulary that fills the dtype, the separator, with the end of every
query passed to `memx.verify.sarray` explicitly (any byte may occur in a token index).
Lengths come back in bytes of whole tokens. Counts
are summed over every shard of every directory; the longest match is the longest in any.

Also what the config leaves implicit: `resolve_token_dtype` (index.json, else the
config, else from the tokenizer's vocabulary: u16 when it fits, else u32). Everything
is local; syncing from S3 is `memx.sync`'s. It knows nothing about tokenizers' contents,
samples or spans.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from memx.errors import ConfigError
from memx.verify.sarray import _LONG_BLOCK, ShardSearcher, count_in_shards

WIDTHS = {"u8": 1, "u16": 2, "u32": 4}
FORMAT = "memx-infini-gram-token"  # index.json `format` of a token index memx built (memx.index_tokens)
_SHARD = re.compile(r"^(tokenized|table|offset)\.(\d+)$")
_OFFSET_SAMPLES = 4096  # document offsets checked per shard (all of them when fewer)


def separator(token_dtype: str) -> int:
    """The document separator of a token index: the token with every bit set."""
    return (1 << (8 * WIDTHS[token_dtype])) - 1


def read_index_json(directory: Path) -> dict | None:
    path = Path(directory) / "index.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError as error:
        raise ConfigError(f"verify.index: {path}: not JSON ({error})") from None


def resolve_token_dtype(metas: list[dict | None], configured: str | None, vocab_size: int | None) -> str:
    """The dtype of an index: what its index.json says (a config that contradicts it is an
    error), else the config's, else u16 when the tokenizer's ids fit below the separator."""
    recorded = {m.get("token_dtype") for m in metas if m is not None}
    if len(recorded) > 1:
        raise ConfigError(f"verify.index: the directories disagree on token_dtype ({sorted(map(str, recorded))})")
    dtype = recorded.pop() if recorded else None
    if dtype is not None and dtype not in WIDTHS:
        raise ConfigError(f"verify.index: index.json has token_dtype {dtype!r} (memx reads u8, u16, u32)")
    if configured is not None and dtype is not None and configured != dtype:
        raise ConfigError(f"verify.token_dtype: {configured} contradicts the index's index.json ({dtype})")
    dtype = dtype or configured
    if dtype is None:
        if vocab_size is None:
            raise ConfigError("verify.tokenizer: required for an index without index.json (the index's tokenizer)")
        dtype = "u16" if vocab_size <= separator("u16") else "u32"
    if vocab_size is not None and vocab_size > separator(dtype) and dtype != "u8":
        raise ConfigError(f"verify.tokenizer: its vocabulary has {vocab_size:,} ids, more than a {dtype} index "
                          f"holds ({separator(dtype):,} below the separator)")
    return dtype


def shard_numbers(directory: Path) -> list[int]:
    """The shard numbers of a directory; every shard must have all three files."""
    found: dict[int, set[str]] = {}
    for path in directory.iterdir():
        match = _SHARD.match(path.name)
        if match and path.is_file():
            found.setdefault(int(match.group(2)), set()).add(match.group(1))
    if not found:
        raise ConfigError(f"verify.index: {directory}: no shard files (tokenized.N, table.N, offset.N)")
    for number, kinds in sorted(found.items()):
        missing = {"tokenized", "table", "offset"} - kinds
        if missing:
            raise ConfigError(f"verify.index: {directory}: shard {number} lacks {', '.join(sorted(missing))}.{number}")
    return sorted(found)


def _check_offsets(directory: Path, number: int, searcher: ShardSearcher, token_dtype: str) -> None:
    path = directory / f"offset.{number}"
    size = path.stat().st_size
    if size == 0 or size % 8:
        raise ConfigError(f"verify.index: {path}: size {size} is not a positive multiple of 8 (u64 offsets)")
    offsets = np.memmap(path, dtype="<u8", mode="r")
    picks = np.unique(np.linspace(0, len(offsets) - 1, min(len(offsets), _OFFSET_SAMPLES)).astype(np.int64))
    at = offsets[picks].astype(np.int64)
    width = WIDTHS[token_dtype]
    if at[0] != 0 or (np.diff(at) <= 0).any() or at[-1] >= searcher.n or (at % width).any():
        raise ConfigError(f"verify.index: {path}: document offsets are not increasing token positions inside "
                          f"tokenized.{number} (is token_dtype {token_dtype} right?)")
    heads = searcher.ds[at[:, None] + np.arange(width)]
    if not (heads == 0xFF).all():
        raise ConfigError(f"verify.index: {directory}/tokenized.{number}: no {token_dtype} separator (every bit set) "
                          f"at a recorded document offset (is token_dtype {token_dtype} right?)")


def open_shard(directory: Path, number: int, token_dtype: str) -> ShardSearcher:
    """One shard, memory-mapped, its layout and a sample of its order checked."""
    width = WIDTHS[token_dtype]
    try:
        searcher = ShardSearcher(directory / f"tokenized.{number}", directory / f"table.{number}", width)
    except ValueError as error:
        raise ConfigError(f"verify.index: {error} (token_dtype {token_dtype})") from None
    _check_offsets(directory, number, searcher, token_dtype)
    problem = searcher.order_problem()
    if problem:
        raise ConfigError(f"verify.index: {directory}/table.{number} is not a suffix array of tokenized.{number}: "
                          f"{problem} (rebuild this shard)")
    return searcher


def pack_token_queries(id_lists, token_dtype: str, end_token: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One buffer of every query's ids as little-endian tokens, each followed by `end_token`
    (default: the separator), plus padding; and each query's start (a byte position). Ids
    must lie below the separator."""
    sep = separator(token_dtype) if end_token is None else end_token
    arrays = [np.asarray(ids, dtype=np.int64) for ids in id_lists]
    sizes = np.array([len(a) + 1 for a in arrays], dtype=np.int64)
    flat = np.full(int(sizes.sum()) + _LONG_BLOCK, sep, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    if arrays:
        ids = np.concatenate(arrays)
        check_token_ids(ids, token_dtype)
        flat[_ranks(sizes - 1)] = ids
    width = WIDTHS[token_dtype]
    return flat.astype(f"<u{width}").view(np.uint8), starts * width


def _ranks(sizes: np.ndarray) -> np.ndarray:
    """For lists of `sizes`, each element's place in the concatenation of their slots,
    where every list is followed by one separator slot."""
    ends = np.cumsum(sizes + 1)
    starts = ends - sizes - 1
    return np.repeat(starts, sizes) + np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)


def check_token_ids(ids: np.ndarray, token_dtype: str) -> None:
    """ConfigError when an id is the separator or does not fit the dtype (it would match
    document boundaries, or wrap around)."""
    if not len(ids):
        return
    sep = separator(token_dtype)
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high >= sep:
        bad = low if low < 0 else high
        what = "the separator" if bad == sep else f"outside {token_dtype}"
        raise ConfigError(f"verify.index: token id {bad} is {what}: the tokenizer does not fit this {token_dtype} index")


class TokenIndex:
    """Batched queries over every shard of one or several token-index directories.

    Positions and lengths are bytes of the query buffer (whole tokens: multiples of
    `width`), the same interface as `memx.verify.byteindex.CorpusIndex`, so `memx.verify.spans` runs
    unchanged over either. One memory map per file, opened once.
    """

    def __init__(self, dirs: list[Path], token_dtype: str, metas: list[dict | None] | None = None,
                 vocab_size: int | None = None):
        self.dirs = [Path(d) for d in dirs]
        self.token_dtype = token_dtype
        self.width = WIDTHS[token_dtype]
        self.separator = separator(token_dtype)
        # What ends a query: an id the tokenizer never uses (the one below the separator)
        # cannot match at a token position, so comparisons stop there by themselves; only a
        # vocabulary that fills the dtype needs the separator plus explicit query ends.
        fits = vocab_size is not None and vocab_size < self.separator
        self.end_token = self.separator - 1 if fits else self.separator
        self.metas = metas or [read_index_json(d) for d in self.dirs]
        self._shards = [open_shard(d, number, token_dtype) for d in self.dirs for number in shard_numbers(d)]
        self.tokens = sum(s.tokens for s in self._shards)

    @property
    def dir(self) -> Path:
        return self.dirs[0]

    def _limits(self, buf: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """The byte position of the separator token that ends the query starting at each pos."""
        tokens = buf[: len(buf) - len(buf) % self.width].view(f"<u{self.width}")
        ends = np.nonzero(tokens == self.separator)[0] * self.width
        return ends[np.minimum(np.searchsorted(ends, pos, side="left"), len(ends) - 1)]

    def prefix_lengths_packed(self, buf: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Bytes of the longest run of whole tokens from each pos (a token position in a
        `pack_token_queries`-style buffer) that occurs in the index."""
        pos = np.asarray(pos, dtype=np.int64)
        best = np.zeros(len(pos), dtype=np.int64)
        if not len(pos):
            return best
        limit = self._limits(buf, pos) if self.end_token == self.separator else None
        for shard in self._shards:
            np.maximum(best, shard.prefix_lengths(buf, pos, limit), out=best)
        return best - best % self.width  # a match ends on a whole token

    def count_packed(self, buf: np.ndarray, pos: np.ndarray, lens: np.ndarray) -> np.ndarray:
        """Occurrences of each buf[p:p+n] (whole tokens) summed over all shards; 0 where n == 0."""
        return count_in_shards(self._shards, buf, pos, lens)

    def count_tokens(self, id_lists) -> np.ndarray:
        """Occurrences of each id sequence in the index (int64; 0 for an empty one)."""
        buf, starts = pack_token_queries(id_lists, self.token_dtype, self.end_token)
        lens = np.array([len(ids) for ids in id_lists], dtype=np.int64) * self.width
        return self.count_packed(buf, starts, lens)


def local_dirs(dirs: list[str | Path]) -> tuple[list[Path], list[dict | None]]:
    """The index directories as paths, each checked to exist, and their index.json (or None)."""
    paths = [Path(d) for d in dirs]
    if not paths:
        raise ConfigError("verify.index: no directory given")
    for path in paths:
        if not path.is_dir():
            raise ConfigError(f"verify.index: {path} is not a directory (build one with `memx index build`)")
    return paths, [read_index_json(p) for p in paths]


def open_token_index(dirs: list[str | Path], token_dtype: str | None = None,
                     vocab_size: int | None = None) -> TokenIndex:
    """A TokenIndex over `dirs` (local directories), dtype resolved as docs/indexes.md says."""
    paths, metas = local_dirs(dirs)
    dtype = resolve_token_dtype(metas, token_dtype, vocab_size)
    return TokenIndex(paths, dtype, metas, vocab_size)
