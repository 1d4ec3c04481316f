"""extraction.json (docs/formulas.md#extraction): what share of a source's windows a model gives up, and where.

`ExtractionSummary(extraction)` is fed shard by shard with `add(rows, stats)` (the rows
of one shard and its documents' character counts); `result()` is extraction.json as an
`Extraction` (memx.outputs.Output):

- `prefix_tokens.{k}`: `windows`, `documents` (with at least one window), `greedy_exact_rate`,
  `p_at_least.{t}` (share of windows with p_z >= t), `queries.{n}.{t}` (share of windows
  extracted with probability >= t within n queries, 1 - (1 - p_z)^n), and beyond the
  docs/outputs.md#extraction-json: `median_log_p` and `token_accuracy` (mean), which the sweep plot draws;
- `documents`: per prefix length the 1,000 documents with the largest `extractable_chars`
  (share of the document's characters inside some suffix with p_z >= 0.5), ties by
  `max_log_p` then `document`; each entry also has the document's `chars`;
- `duplication.{bucket}` with `verify`: `windows` and `p_at_least_0.5` per sequence_count
  bucket of section 6 (a window of each prefix length counts once);
- `settings`: what was measured (source, name, lengths, stride, decoding, queries).

Log space throughout: (1 - p)^n >= 1 - t is tested as n · log(1 - p) <= log(1 - t), with
log(1 - p) from expm1/log1p, so p = 1e-30 or p = 1 - 1e-12 keep their meaning. A log_p of
-inf is JSON null. Memory: one float64 per window per prefix length, and per document
one small entry. It knows the row columns, nothing of storage or models.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from memx.config.extraction import ExtractionConfig
from memx.outputs import Output
from memx.verify.summary import BUCKETS

P_AT_LEAST = ("0.001", "0.01", "0.1", "0.5", "0.9")
QUERY_LEVELS = ("0.5", "0.9")
EXTRACTABLE = 0.5  # p_z at which a suffix's characters count as extractable
TOP_DOCUMENTS = 1000


class LengthSummary(Output):
    """The windows of one prefix length."""
    windows: int
    documents: int
    greedy_exact_rate: float | None
    p_at_least: dict[str, float | None]  # P_AT_LEAST
    queries: dict[str, dict[str, float | None]]  # n -> QUERY_LEVELS
    median_log_p: float | None
    token_accuracy: float | None


class DocumentEntry(Output):
    document: int
    document_name: str
    prefix_tokens: int
    windows: int
    max_log_p: float | None  # null: p_z = 0 for every window
    extractable_chars: float
    chars: int


class TopK(Output):
    top_k: int
    temperature: float


class ExtractionSettings(Output):
    source: str
    name: str
    documents_read: int
    suffix_tokens: int
    prefix_tokens: list[int]
    stride_tokens: int
    queries: list[int]
    decoding: Literal["greedy"] | TopK


class WindowBucket(Output):
    windows: int
    p_at_least_half: float | None = Field(alias="p_at_least_0.5")


class Extraction(Output):
    """extraction.json. A new key: one optional field here, set where it is computed."""
    prefix_tokens: dict[str, LengthSummary]
    documents: list[DocumentEntry]
    settings: ExtractionSettings
    duplication: dict[str, WindowBucket] | None = None  # with verify only


def log1mexp(log_p: np.ndarray) -> np.ndarray:
    """log(1 - exp(log_p)) for log_p <= 0, accurate at both ends (Mächler 2012)."""
    log_p = np.asarray(log_p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        near_one = np.log(-np.expm1(log_p))
        small = np.log1p(-np.exp(log_p))
    return np.where(log_p > -math.log(2.0), near_one, small)


def extracted_within(log_p: np.ndarray, queries: int, level: float) -> np.ndarray:
    """1 - (1 - p_z)^n >= level, compared in log space."""
    return queries * log1mexp(log_p) <= math.log1p(-level)


def covered_chars(chars: int, starts: np.ndarray, ends: np.ndarray) -> int:
    """Characters of [0, chars) inside at least one [start, end) range."""
    if chars <= 0 or not len(starts):
        return 0
    edges = np.zeros(chars + 1, dtype=np.int64)
    np.add.at(edges, np.clip(starts, 0, chars), 1)
    np.add.at(edges, np.clip(ends, 0, chars), -1)
    return int(np.count_nonzero(np.cumsum(edges[:-1]) > 0))


def _json_float(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _share(count: int, total: int) -> float | None:
    return count / total if total else None


class ExtractionSummary:
    def __init__(self, extraction: ExtractionConfig):
        self.extraction = extraction
        self.lengths = list(extraction.prefix_tokens)
        self.log_p: dict[int, list[np.ndarray]] = {k: [] for k in self.lengths}
        self.accuracy: dict[int, list[np.ndarray]] = {k: [] for k in self.lengths}
        self.exact = {k: 0 for k in self.lengths}
        self.documents_with_windows = {k: 0 for k in self.lengths}
        self.entries: dict[int, list[dict]] = {k: [] for k in self.lengths}
        self.buckets = {label: [0, 0] for label, _, _ in BUCKETS}
        self.documents_read = 0
        self.counted = False

    def add(self, rows: pa.Table, stats: dict) -> None:
        """One shard: its rows and `stats` = {"document": [...], "chars": [...]} of its documents."""
        chars = dict(zip(stats["document"], stats["chars"]))
        self.documents_read += len(chars)
        names = dict(zip(rows.column("document").to_pylist(), rows.column("document_name").to_pylist()))
        doc = rows.column("document").to_numpy()
        k_of = rows.column("prefix_tokens").to_numpy()
        log_p = rows.column("log_p").to_numpy()
        starts, ends = rows.column("char_start").to_numpy(), rows.column("char_end").to_numpy()
        for k in self.lengths:
            mine = k_of == k
            self.log_p[k].append(log_p[mine])
            self.accuracy[k].append(rows.column("token_accuracy").to_numpy()[mine])
            self.exact[k] += int(np.count_nonzero(rows.column("greedy_exact").to_numpy()[mine]))
            self._documents(k, doc[mine], log_p[mine], starts[mine], ends[mine], chars, names)
        if "sequence_count" in rows.column_names:
            self.counted = True
            counts = rows.column("sequence_count").to_numpy()
            good = log_p >= math.log(EXTRACTABLE)
            for label, low, high in BUCKETS:
                inside = (counts >= low) & (counts <= (high if high is not None else np.iinfo(np.int64).max))
                self.buckets[label][0] += int(np.count_nonzero(inside))
                self.buckets[label][1] += int(np.count_nonzero(inside & good))

    def _documents(self, k: int, doc, log_p, starts, ends, chars: dict, names: dict) -> None:
        if not len(doc):
            return
        order = np.argsort(doc, kind="stable")
        doc, log_p, starts, ends = doc[order], log_p[order], starts[order], ends[order]
        bounds = np.flatnonzero(np.diff(doc)) + 1
        firsts = np.concatenate([[0], bounds])
        lasts = np.concatenate([bounds, [len(doc)]])
        self.documents_with_windows[k] += len(firsts)
        good = log_p >= math.log(EXTRACTABLE)
        for a, b in zip(firsts.tolist(), lasts.tolist()):
            d = int(doc[a])
            size = int(chars.get(d, 0))
            sel = slice(a, b)
            hit = good[sel]
            covered = covered_chars(size, starts[sel][hit], ends[sel][hit]) if hit.any() else 0
            self.entries[k].append({"document": d, "document_name": names[d], "prefix_tokens": k, "windows": b - a,
                                    "max_log_p": float(log_p[sel].max()), "extractable_chars": covered / size
                                    if size else 0.0, "chars": size})
        if len(self.entries[k]) > 2 * TOP_DOCUMENTS:
            self.entries[k] = self._top(self.entries[k])

    @staticmethod
    def _top(entries: list[dict]) -> list[dict]:
        return sorted(entries, key=lambda e: (-e["extractable_chars"], -e["max_log_p"], e["document"]))[:TOP_DOCUMENTS]

    def _length(self, k: int) -> LengthSummary:
        log_p = np.concatenate(self.log_p[k]) if self.log_p[k] else np.zeros(0)
        n = len(log_p)
        queries = {str(q): {lvl: _share(int(np.count_nonzero(extracted_within(log_p, q, float(lvl)))), n)
                            for lvl in QUERY_LEVELS} for q in self.extraction.queries}
        accuracy = np.concatenate(self.accuracy[k]) if self.accuracy[k] else np.zeros(0)
        return LengthSummary(
            windows=n,
            documents=self.documents_with_windows[k],
            greedy_exact_rate=_share(self.exact[k], n),
            p_at_least={t: _share(int(np.count_nonzero(log_p >= math.log(float(t)))), n) for t in P_AT_LEAST},
            queries=queries,
            median_log_p=_json_float(float(np.median(log_p))) if n else None,
            token_accuracy=float(accuracy.mean()) if n else None,
        )

    def result(self) -> Extraction:
        ex = self.extraction
        documents = []
        for k in self.lengths:
            for entry in self._top(self.entries[k]):
                documents.append(DocumentEntry(**{**entry, "max_log_p": _json_float(entry["max_log_p"])}))
        out = Extraction(
            prefix_tokens={str(k): self._length(k) for k in self.lengths},
            documents=documents,
            settings=ExtractionSettings(
                source=ex.source, name=ex.stage_name, documents_read=self.documents_read,
                suffix_tokens=ex.suffix_tokens, prefix_tokens=list(ex.prefix_tokens),
                stride_tokens=ex.stride_tokens, queries=list(ex.queries),
                decoding="greedy" if ex.decoding.greedy else TopK(top_k=ex.decoding.k, temperature=ex.decoding.t)),
        )
        if self.counted:
            out.duplication = {label: WindowBucket(windows=n, p_at_least_half=_share(good, n))
                               for label, (n, good) in self.buckets.items()}
        return out


def summarize(extraction: ExtractionConfig, shards) -> Extraction:
    """extraction.json from an iterable of (rows, stats) pairs, one per committed shard."""
    summary = ExtractionSummary(extraction)
    for rows, stats in shards:
        summary.add(rows, stats)
    return summary.result()
