"""The windows of docs/formulas.md#extraction over tokenized documents, and their character ranges.

A window is a suffix of S tokens starting at token offset `o` of one document, with the
k tokens before it as prefix, for every k of `prefix_tokens` and every `o` that is a
multiple of `stride_tokens` with `o >= k` and `o + S <= length`. So no window crosses a
document, and a sweep over prefix lengths scores the same suffixes (those at `o >= k`)
under each k. Row order: document, then k in config order, then offset.

`char_start` / `char_end` are Python str indexes into the document's text from the
tokenizer's offsets, `offsets[o][0]` and `offsets[o + S - 1][1]`: a character whose bytes
are split between two tokens is inside both tokens' offsets, so it belongs to both
neighbouring ranges. Pure numpy; knows nothing of models or storage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memx.extraction.documents import TokenizedDocument


def window_offsets(length: int, prefix_tokens: int, suffix_tokens: int, stride_tokens: int) -> np.ndarray:
    """Every suffix start o of one document for one prefix length (int64, ascending)."""
    first = -(-prefix_tokens // stride_tokens) * stride_tokens
    last = length - suffix_tokens
    if last < first:
        return np.zeros(0, dtype=np.int64)
    return np.arange(first, last + 1, stride_tokens, dtype=np.int64)


@dataclass
class Windows:
    """All windows of a batch of documents, one entry per row (row order as above)."""

    document: np.ndarray  # (rows,) int64: position of the window's document in the batch
    prefix_tokens: np.ndarray  # (rows,) int32
    offset: np.ndarray  # (rows,) int64: first suffix token
    char_start: np.ndarray  # (rows,) int64
    char_end: np.ndarray  # (rows,) int64

    def __len__(self) -> int:
        return len(self.offset)


def enumerate_windows(documents: list[TokenizedDocument], prefix_lengths: list[int], suffix_tokens: int,
                      stride_tokens: int) -> Windows:
    parts: list[tuple[np.ndarray, ...]] = []
    for position, doc in enumerate(documents):
        for k in prefix_lengths:
            offsets = window_offsets(len(doc.ids), k, suffix_tokens, stride_tokens)
            if not len(offsets):
                continue
            parts.append((np.full(len(offsets), position, dtype=np.int64), np.full(len(offsets), k, dtype=np.int32),
                          offsets, doc.offsets[offsets, 0], doc.offsets[offsets + suffix_tokens - 1, 1]))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Windows(empty, empty.astype(np.int32), empty, empty, empty)
    columns = [np.concatenate(column) for column in zip(*parts)]
    return Windows(*columns)
