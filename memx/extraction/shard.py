"""One shard of the `extraction` stage: documents in, one row per window out (docs/formulas.md#extraction).

`extraction_rows` tokenizes the shard's documents whole (one call), enumerates their
windows, runs the teacher-forced pass grouped by prefix length (each group one batch
shape, no padding), and, with a verification index, counts each window's prefix +
suffix bytes in it (`sequence_count`, the counter of the `prefix` strategy's scores).
Every document's token ids go to the model's device once; windows are gathered there.

Rows: `document` int64, `document_name` str, `prefix_tokens` int32, `offset` int32,
`char_start`, `char_end` int64, `log_p` float64, `greedy_exact` bool, `token_accuracy`
float64, then `sequence_count` int64 when counted. Also per document its characters and
tokens (`DocumentStats`), which the run's summary needs for `extractable_chars` and the
report for its maps, and which the shard's manifest keeps. This module knows the model
pass and the row layout, not storage, manifests or Ray.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pyarrow as pa
import torch

from memx.config.extraction import ExtractionConfig
from memx.extraction.documents import TokenizedDocument, encode_with_offsets
from memx.extraction.passes import WindowPass, WindowScores
from memx.extraction.windows import enumerate_windows

EXTRACTION_FIELDS = [
    ("document", pa.int64()), ("document_name", pa.string()), ("prefix_tokens", pa.int32()),
    ("offset", pa.int32()), ("char_start", pa.int64()), ("char_end", pa.int64()), ("log_p", pa.float64()),
    ("greedy_exact", pa.bool_()), ("token_accuracy", pa.float64()),
]
SEQUENCE_COUNT = ("sequence_count", pa.int64())
_COUNT_ROWS = 8192  # windows whose ids are gathered at once for the index

Counter = Callable[[pa.Array, pa.Array], np.ndarray]  # (prefix ids, suffix ids) -> occurrences


def extraction_schema(with_counts: bool) -> pa.Schema:
    return pa.schema(EXTRACTION_FIELDS + ([SEQUENCE_COUNT] if with_counts else []))


@dataclass
class DocumentStats:
    document: list[int]
    chars: list[int]
    tokens: list[int]

    def to_dict(self) -> dict:
        return {"document": self.document, "chars": self.chars, "tokens": self.tokens}


def _id_lists(matrix: np.ndarray) -> pa.ListArray:
    rows, width = matrix.shape
    return pa.ListArray.from_arrays(pa.array(np.arange(0, rows * width + 1, width, dtype=np.int32)),
                                    pa.array(matrix.reshape(-1)))


def _counts(flat: np.ndarray, starts: np.ndarray, k: int, suffix: int, counter: Counter) -> np.ndarray:
    out = np.zeros(len(starts), dtype=np.int64)
    span = np.arange(k + suffix)
    for first in range(0, len(starts), _COUNT_ROWS):
        ids = flat[starts[first: first + _COUNT_ROWS, None] + span]
        out[first: first + len(ids)] = counter(_id_lists(ids[:, :k]), _id_lists(ids[:, k:]))
    return out


def score_documents(window_pass: WindowPass, docs: list[TokenizedDocument], extraction: ExtractionConfig,
                    counter: Counter | None = None):
    """(Windows, WindowScores, sequence counts or None) of already tokenized documents."""
    suffix = extraction.suffix_tokens
    windows = enumerate_windows(docs, extraction.prefix_tokens, suffix, extraction.stride_tokens)
    scores = WindowScores.empty(len(windows))
    counts = np.zeros(len(windows), dtype=np.int64) if counter is not None else None
    if not len(windows):
        return windows, scores, counts
    lengths = np.fromiter((len(d.ids) for d in docs), dtype=np.int64, count=len(docs))
    doc_start = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    flat = np.concatenate([d.ids for d in docs])
    tokens = torch.from_numpy(flat).to(window_pass.device)
    for k in extraction.prefix_tokens:
        rows = np.flatnonzero(windows.prefix_tokens == k)
        starts = doc_start[windows.document[rows]] + windows.offset[rows] - k
        got = window_pass.score(tokens, starts, k, suffix)
        scores.log_p[rows], scores.greedy_exact[rows], scores.token_accuracy[rows] = \
            got.log_p, got.greedy_exact, got.token_accuracy
        if counts is not None:
            counts[rows] = _counts(flat, starts, k, suffix, counter)
    return windows, scores, counts


def extraction_rows(window_pass: WindowPass, tokenizer, texts: list[str], documents: np.ndarray, names: list[str],
                    extraction: ExtractionConfig, counter: Counter | None = None) -> tuple[pa.Table, DocumentStats]:
    """The rows of one shard: `texts[i]` is document `documents[i]`, named `names[i]`."""
    docs = encode_with_offsets(tokenizer, texts)
    windows, scores, counts = score_documents(window_pass, docs, extraction, counter)
    documents = np.asarray(documents, dtype=np.int64)
    columns = {
        "document": pa.array(documents[windows.document], pa.int64()),
        "document_name": pa.DictionaryArray.from_arrays(pa.array(windows.document.astype(np.int32)),
                                                        pa.array(names, pa.string())).cast(pa.string()),
        "prefix_tokens": pa.array(windows.prefix_tokens, pa.int32()),
        "offset": pa.array(windows.offset.astype(np.int32), pa.int32()),
        "char_start": pa.array(windows.char_start, pa.int64()),
        "char_end": pa.array(windows.char_end, pa.int64()),
        "log_p": pa.array(scores.log_p, pa.float64()),
        "greedy_exact": pa.array(scores.greedy_exact, pa.bool_()),
        "token_accuracy": pa.array(scores.token_accuracy, pa.float64()),
    }
    if counts is not None:
        columns["sequence_count"] = pa.array(counts, pa.int64())
    table = pa.table(columns, schema=extraction_schema(counts is not None))
    stats = DocumentStats(documents.tolist(), [d.chars for d in docs], [len(d.ids) for d in docs])
    return table, stats
