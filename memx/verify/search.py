"""One object per (target tokenizer, index) that applies docs/formulas.md#span and the span (docs/indexes.md) rule: the way
every caller (the verified stage, candidates, memorization.json, `sequence_count` of
`prefix` rows and extraction windows) asks the index about token ids.

`span_search(target_tokenizer, index, index_tokenizer)` picks the search:

- a byte-level index (`memx.verify.byteindex.CorpusIndex`): `ByteSearch`, the target's token bytes
  searched as bytes (any tokenizer);
- a token index whose tokenizer is the target's (the same token -> id map, compared by
  content, never by path): `TokenSearch`, the generated ids searched as they are;
- a token index of another tokenizer: `memx.verify.bridge.BridgedSearch` (re-tokenize,
  search, map back to target tokens).

Each has `spans(token_ids) -> SPAN_COLUMNS` (generated tokens only: the caller never
passes the prompt) and `sequence_counts(id_lists) -> int64 counts`, plus `table`, the
target's `PackedTable` (for the matched span's text). `open_index_dirs` opens local
index directories as docs/indexes.md reads them. This module knows nothing about shards,
storage or where an index lives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from memx.errors import ConfigError
from memx.verify.spans import (_STRIDE, _as_packed, flatten_token_ids, generated_spans, hide_before,
                               spans_of_layout)
from memx.verify.tokenbytes import PackedTable, load_tokenizer, token_byte_table
from memx.verify.tokenindex import FORMAT as TOKEN_FORMAT
from memx.verify.tokenindex import TokenIndex, check_token_ids, local_dirs, open_token_index, resolve_token_dtype


def vocabulary(tokenizer: Any) -> dict[str, int]:
    return dict(tokenizer.get_vocab())  # added tokens included, for tokenizers and transformers alike


def vocab_size(tokenizer: Any) -> int:
    return len(token_byte_table(tokenizer))


def same_tokenizer(a: Any, b: Any) -> bool:
    """Token ids of one mean the same strings to the other (their maps compared by content)."""
    return a is b or vocabulary(a) == vocabulary(b)


class ByteSearch:
    """Target token bytes against a byte-level index."""

    def __init__(self, table: PackedTable, index, stride: int = _STRIDE):
        self.table, self.index, self.stride = table, index, stride

    def spans(self, token_ids, span_from=None) -> dict[str, np.ndarray]:
        return generated_spans(token_ids, self.table, self.index, stride=self.stride, span_from=span_from)

    def sequence_counts(self, id_lists) -> np.ndarray:
        datas = [self.table.bytes_of(ids) for ids in id_lists]
        return np.asarray(self.index.count_many(datas), dtype=np.int64) if datas else np.zeros(0, np.int64)


class TokenSearch:
    """Target ids against a token index of the same tokenizer: the ids are the index's."""

    def __init__(self, table: PackedTable, index: TokenIndex, stride: int = _STRIDE):
        self.table, self.index, self.stride = table, index, stride
        real = np.nonzero(~table.special)[0]
        check_token_ids(real, index.token_dtype)  # a u16 index of a tokenizer over 65,535 ids

    def spans(self, token_ids, span_from=None) -> dict[str, np.ndarray]:
        flat, offsets = flatten_token_ids(token_ids)
        flat = hide_before(flat, offsets, span_from)
        known = (flat >= 0) & (flat < len(self.table))
        special = ~known | self.table.special[np.where(known, flat, 0)]
        sample_of = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
        width = self.index.width
        slot = np.arange(len(flat), dtype=np.int64) + sample_of  # one separator after each sample
        units = np.full(len(flat) + len(offsets) + 64, self.index.end_token, dtype=np.int64)
        units[slot] = np.where(special, self.index.end_token, flat)  # a special token breaks a run
        buf = units.astype(f"<u{width}").view(np.uint8)
        return spans_of_layout(buf, slot * width, (slot + 1) * width, special, sample_of, offsets, self.index,
                               self.stride)

    def sequence_counts(self, id_lists) -> np.ndarray:
        kept = []
        for ids in id_lists:  # special tokens add no text, as in the byte-level rule
            arr = np.asarray(ids, dtype=np.int64)
            ok = (arr >= 0) & (arr < len(self.table))
            kept.append(arr[ok][~self.table.special[arr[ok]]])
        return self.index.count_tokens(kept)


def _index_tokenizer(dirs: list[Path], metas: list[dict | None], configured: str | None):
    """The index's tokenizer: verify.tokenizer, else the copy a memx-built index keeps beside
    its shards, else the name its index.json records; a configured one whose token -> id
    map differs from the copy's contradicts the index (exit 2)."""
    copies = [d / "tokenizer" for d in dirs if (d / "tokenizer" / "tokenizer.json").is_file()]
    kept = load_tokenizer(str(copies[0]), field="verify.index") if copies else None
    if configured is not None:
        tokenizer = load_tokenizer(configured)
        if kept is not None and not same_tokenizer(tokenizer, kept):
            raise ConfigError(f"verify.tokenizer: {configured} is not the tokenizer the index was built with "
                              f"({copies[0]}, {metas[0].get('tokenizer') if metas[0] else '?'})")
        return tokenizer
    if kept is not None:
        return kept
    named = [m["tokenizer"] for m in metas if m and m.get("tokenizer")]
    return load_tokenizer(named[0], field="verify.index (index.json tokenizer)") if named else None


def open_index_dirs(dirs: list[str | Path], tokenizer: str | None = None, token_dtype: str | None = None):
    """(index, index tokenizer or None) for local directories as docs/indexes.md reads them: memx's
    byte-level indexes as a `CorpusIndex`, any token index (memx's, or a released one
    without index.json) as a `TokenIndex`."""
    from memx.verify.byteindex import FORMAT as BYTE_FORMAT
    from memx.verify.byteindex import CorpusIndex

    paths, metas = local_dirs(dirs)
    for path, meta in zip(paths, metas):
        if meta is not None and meta.get("format") not in (BYTE_FORMAT, TOKEN_FORMAT):
            raise ConfigError(f"verify.index: {path}: an index made for another format (index.json format "
                              f"{meta.get('format')!r}; memx reads {BYTE_FORMAT!r}, {TOKEN_FORMAT!r}, or "
                              "infini-gram's v4 shards without index.json)")
    if any(m and m.get("format") == BYTE_FORMAT for m in metas):
        if token_dtype not in (None, "u8") or tokenizer is not None:
            raise ConfigError(f"verify.token_dtype/tokenizer: {paths[0]} is a byte-level (u8) index, any tokenizer: "
                              "leave both unset")
        return CorpusIndex(paths), None
    index_tokenizer = _index_tokenizer(paths, metas, tokenizer)
    size = vocab_size(index_tokenizer) if index_tokenizer is not None else None
    dtype = resolve_token_dtype(metas, token_dtype, size)
    if index_tokenizer is None and dtype != "u8":
        raise ConfigError("verify.tokenizer: required for an index without index.json (the index's tokenizer)")
    return open_token_index(paths, dtype, size), index_tokenizer


def span_search(target_tokenizer: Any, index, index_tokenizer: Any = None, stride: int = _STRIDE):
    """The search docs/indexes.md prescribes for this target and index (see the module docstring)."""
    table = _as_packed(target_tokenizer if isinstance(target_tokenizer, PackedTable)
                       else PackedTable(token_byte_table(target_tokenizer)))
    if not isinstance(index, TokenIndex):
        return ByteSearch(table, index, stride)
    if index_tokenizer is None:
        raise ConfigError("verify.tokenizer: a token index needs its tokenizer (none given, none in index.json)")
    if not isinstance(target_tokenizer, PackedTable) and same_tokenizer(target_tokenizer, index_tokenizer):
        return TokenSearch(table, index, stride)
    from memx.verify.bridge import BridgedSearch

    return BridgedSearch(table, index_tokenizer, index, stride)


__all__ = ["ByteSearch", "TokenSearch", "load_tokenizer", "open_index_dirs", "same_tokenizer", "span_search",
           "vocab_size", "vocabulary"]
