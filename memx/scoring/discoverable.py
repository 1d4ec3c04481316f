"""Discoverable-extraction scores of `prefix` rows (docs/formulas.md#prefix): continuation against true suffix.

From the token ids in hand, never from text:

- `exact` (bool): the continuation equals the true suffix;
- `match_prefix_tokens` (int32): how many leading tokens are equal;
- `token_accuracy` (float64): the share of the suffix's positions where they are equal
  (Pythia's memorization score);
- `sequence_count` (int64, only with a verification index): occurrences in the index of
  the bytes of prefix + true suffix, the sequence's duplication in the corpus.

All of it on padded numpy arrays of a whole shard at once. This module knows nothing
about models, shards on disk or Ray; the index and its byte table are the caller's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EXTRACTION_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("exact", pa.bool_()),
    ("match_prefix_tokens", pa.int32()),
    ("token_accuracy", pa.float64()),
]
SEQUENCE_COUNT_COLUMN = ("sequence_count", pa.int64())


def _lists(values: Any) -> pa.ListArray:
    """A list<int64> array (no nulls) from an Arrow list column or Python lists of ids."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], pa.list_(pa.int64()))
    if not isinstance(values, pa.Array):
        values = pa.array(values, pa.list_(pa.int64()))
    if values.null_count:
        raise ValueError("token id lists must not be null here")
    return values.cast(pa.list_(pa.int64()))


def padded(values: Any, fill: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows x longest) int64 ids right-padded with `fill`, and each row's length."""
    lists = _lists(values)
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    width = int(lengths.max()) if len(lengths) else 0
    out = np.full((len(lengths), width), fill, dtype=np.int64)
    flat = pc.list_flatten(lists).to_numpy(zero_copy_only=False)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else lengths
    out[rows, np.arange(len(flat)) - np.repeat(starts, lengths)] = flat
    return out, lengths


def extraction_scores(token_ids: Any, target_ids: Any) -> dict[str, np.ndarray]:
    """`exact`, `match_prefix_tokens`, `token_accuracy` of each continuation against its target."""
    # Different fills: padding never counts as a match, whichever side is shorter.
    tokens, token_len = padded(token_ids, -1)
    targets, target_len = padded(target_ids, -2)
    width = max(tokens.shape[1], targets.shape[1])
    tokens = np.pad(tokens, ((0, 0), (0, width - tokens.shape[1])), constant_values=-1)
    targets = np.pad(targets, ((0, 0), (0, width - targets.shape[1])), constant_values=-2)
    equal = tokens == targets
    matched = np.cumprod(equal, axis=1).sum(axis=1) if width else np.zeros(len(equal), dtype=np.int64)
    correct = equal.sum(axis=1)
    accuracy = np.divide(correct, target_len, out=np.zeros(len(correct), dtype=np.float64), where=target_len > 0)
    return {
        "exact": (token_len == target_len) & (correct == target_len),
        "match_prefix_tokens": matched.astype(np.int32),
        "token_accuracy": accuracy,
    }


def _row_bytes(prompt_ids: Any, target_ids: Any, table) -> list[bytes]:
    """The bytes of prompt + target of each row, gathered from a `PackedTable` with numpy."""
    from memx.verify.tokenbytes import PackedTable

    packed = table if isinstance(table, PackedTable) else PackedTable(table)
    prompts, targets = _lists(prompt_ids), _lists(target_ids)
    p_len = pc.list_value_length(prompts).to_numpy(zero_copy_only=False).astype(np.int64)
    t_len = pc.list_value_length(targets).to_numpy(zero_copy_only=False).astype(np.int64)
    # Interleave per row: the row's prompt ids, then its target ids.
    row_start = np.concatenate([[0], np.cumsum(p_len + t_len)[:-1]]).astype(np.int64)
    ids = np.empty(int((p_len + t_len).sum()), dtype=np.int64)
    p_rank = np.arange(int(p_len.sum())) - np.repeat(np.cumsum(p_len) - p_len, p_len)
    t_rank = np.arange(int(t_len.sum())) - np.repeat(np.cumsum(t_len) - t_len, t_len)
    ids[np.repeat(row_start, p_len) + p_rank] = pc.list_flatten(prompts).to_numpy(zero_copy_only=False)
    ids[np.repeat(row_start + p_len, t_len) + t_rank] = pc.list_flatten(targets).to_numpy(zero_copy_only=False)
    if len(ids) and (ids.min() < 0 or ids.max() >= len(packed)):
        raise ValueError("a token id is outside the tokenizer's vocabulary")
    data = packed.bytes_of(ids)  # one gather for every row; special tokens add no bytes
    sizes = packed.length[ids]
    row_of_token = np.repeat(np.arange(len(p_len)), p_len + t_len)
    row_bytes = np.bincount(row_of_token, weights=sizes, minlength=len(p_len)).astype(np.int64)
    bounds = np.concatenate([[0], np.cumsum(row_bytes)])
    return [data[a:b] for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist())]


def sequence_counts(prompt_ids: Any, target_ids: Any, byte_table, index) -> np.ndarray:
    """Occurrences in `index` (a `memx.verify.byteindex.CorpusIndex`) of each row's prefix + suffix bytes.

    `byte_table` is `memx.verify.tokenbytes.token_byte_table(tokenizer)` (or its
    `PackedTable`: pass that to avoid repacking the vocabulary per call). int64, one
    batched search; 0 for a row with no bytes."""
    datas = _row_bytes(prompt_ids, target_ids, byte_table)
    if not datas:
        return np.zeros(0, dtype=np.int64)
    return np.asarray(index.count_many(datas), dtype=np.int64)


def row_ids(prompt_ids: Any, target_ids: Any) -> list[np.ndarray]:
    """prompt + target ids of each row (int64 arrays)."""
    prompts, targets = _lists(prompt_ids), _lists(target_ids)
    return [np.concatenate([np.asarray(p, dtype=np.int64), np.asarray(t, dtype=np.int64)])
            for p, t in zip(prompts.to_pylist(), targets.to_pylist())]


class SequenceCounter:
    """`sequence_count` of prefix rows bound to one tokenizer and index: build once per
    scoring actor. Any index memx reads goes through its span search
    (`memx.verify.search.span_search`: byte-level, token-level, or re-tokenized with the
    index's tokenizer, docs/indexes.md); `index_tokenizer` is a token index's tokenizer."""

    def __init__(self, tokenizer, index, index_tokenizer=None):
        from memx.verify.search import ByteSearch, span_search

        self.search = span_search(tokenizer, index, index_tokenizer)
        self.table, self.index = self.search.table, index
        self._bytes = isinstance(self.search, ByteSearch)

    def __call__(self, prompt_ids: Any, target_ids: Any) -> np.ndarray:
        if self._bytes:  # one gather for every row's bytes
            return sequence_counts(prompt_ids, target_ids, self.table, self.index)
        return self.search.sequence_counts(row_ids(prompt_ids, target_ids))
