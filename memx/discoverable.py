"""`discoverable.json` (docs/formulas.md#prefix): how much of its training data a model completes from a prefix.

A pure function of the `prefix` strategy's sample rows (`sample_id`, `sequence_id`) and
score rows (`exact`, `match_prefix_tokens`, `token_accuracy`, `score_<metric>`, and
`sequence_count` when verification was configured), laid out like memorization.json
(docs/formulas.md#span) so that a report can show both side by side:

    {"strategies": {"prefix": {"rows", "sequences", "draws", "exact", "exact_rate",
                               "token_accuracy", "match_prefix_tokens",
                               "extraction_probability": {"0.1", "0.5", "0.9"}}},   # draws > 1 only
     "metrics": {"<metric>": {"prefix": {"recall_at_errors": {"100": {"exact", "share"}}}}},
     "duplication": {"1" | "2-3" | ... | ">=64": {"rows", "exact", "exact_rate"}}}       # sequence_count only

- `exact_rate` is per row (per draw); with draws > 1 a sequence's extraction probability
  is the share of its draws that are exact (Hayes et al. 2024, (n, p)-extraction), and
  `extraction_probability.{p}` is the share of sequences with at least that probability.
- `recall_at_errors.100` is the LM extraction benchmark's targeted-attack view: rank the
  continuations by the metric, descending, ties by `sample_id`, and count the exact ones
  ranked before the 100th wrong one (all exact rows when there are fewer than 100 wrong);
  `share` is that count over all exact rows (null when none is exact).
- `duplication` buckets rows by `sequence_count` (occurrences of prefix + suffix in the
  index): "1", "2-3", "4-7", "8-15", "16-31", "32-63", ">=64", plus "0" when some sequence
  was not found in the index at all (a source that is not the indexed corpus).

It knows nothing about storage, shards, models or how the rows were made.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from memx.outputs import Output

STRATEGY = "prefix"
PROBABILITY_THRESHOLDS = (0.1, 0.5, 0.9)
RECALL_ERRORS = (100,)
COUNT_BUCKETS = ("1", "2-3", "4-7", "8-15", "16-31", "32-63", ">=64")


class PrefixBlock(Output):
    rows: int
    sequences: int
    draws: int
    exact: int
    exact_rate: float | None
    token_accuracy: float | None
    match_prefix_tokens: float | None
    extraction_probability: dict[str, float | None] | None = None  # draws > 1 only


class RecallAt(Output):
    exact: int
    share: float | None


class PrefixRecall(Output):
    recall_at_errors: dict[str, RecallAt]  # "100"


class RowBucket(Output):
    rows: int
    exact: int
    exact_rate: float | None


class Discoverable(Output):
    """discoverable.json. A new key: one optional field here, set where it is computed."""
    strategies: dict[str, PrefixBlock]
    metrics: dict[str, dict[str, PrefixRecall]]
    duplication: dict[str, RowBucket] | None = None  # with sequence_count only
    settings: dict[str, Any] | None = None  # generation.prefix, set by the run


def count_bucket_index(counts: np.ndarray) -> np.ndarray:
    """Index into COUNT_BUCKETS of each count >= 1 (1 -> 0, 2-3 -> 1, ..., >= 64 -> 6); -1 for 0."""
    counts = np.asarray(counts, dtype=np.int64)
    index = np.minimum(np.floor(np.log2(np.maximum(counts, 1))).astype(np.int64), len(COUNT_BUCKETS) - 1)
    return np.where(counts >= 1, index, -1)


def recall_at_errors(scores: np.ndarray, exact: np.ndarray, sample_ids: np.ndarray, errors: int = 100) -> int:
    """Exact rows ranked before the `errors`-th wrong one (score descending, ties by sample_id)."""
    order = np.lexsort((np.asarray(sample_ids, dtype=str), -np.asarray(scores, dtype=np.float64)))
    ranked = np.asarray(exact, dtype=bool)[order]
    wrong_before = np.cumsum(~ranked)  # at an exact row: the wrong rows ranked above it
    return int(np.count_nonzero(ranked & (wrong_before < errors)))


def extraction_probabilities(sequence_ids: np.ndarray, exact: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(exact draws, draws) per distinct sequence id, in sorted id order."""
    _, inverse = np.unique(np.asarray(sequence_ids, dtype=str), return_inverse=True)
    draws = np.bincount(inverse)
    hits = np.bincount(inverse, weights=np.asarray(exact, dtype=np.float64)).astype(np.int64)
    return hits, draws


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _joined(samples: pa.Table | None, scores: pa.Table) -> pa.Table:
    """The score rows with each row's `sequence_id` from its sample row."""
    if "sequence_id" in scores.column_names or samples is None:
        return scores
    where = pc.index_in(scores.column("sample_id"), value_set=samples.column("sample_id"))
    if where.null_count:
        raise ValueError("a prefix score row has no sample row")
    return scores.append_column("sequence_id", samples.column("sequence_id").take(where))


def _duplication(counts: np.ndarray, exact: np.ndarray) -> dict[str, RowBucket]:
    bucket = count_bucket_index(counts)
    labels = (["0"] if (bucket < 0).any() else []) + list(COUNT_BUCKETS)
    out = {}
    for label in labels:
        rows = bucket == (-1 if label == "0" else COUNT_BUCKETS.index(label))
        n, hit = int(rows.sum()), int(np.count_nonzero(exact & rows))
        out[label] = RowBucket(rows=n, exact=hit, exact_rate=_rate(hit, n))
    return out


def discoverable_summary(samples: pa.Table | None, scores: pa.Table, metric_names: list[str],
                         draws: int = 1) -> Discoverable:
    """discoverable.json from the prefix strategy's samples and scores (any row order).

    `samples` needs `sample_id` and `sequence_id` (None when `scores` carries
    `sequence_id` itself); `scores` the score rows of the same samples; `metric_names` the
    concrete metrics (`ratio_<ref>` expanded); `draws` is `generation.prefix.draws`."""
    table = _joined(samples, scores)
    exact = table.column("exact").to_numpy(zero_copy_only=False).astype(bool)
    rows, hits = len(exact), int(np.count_nonzero(exact))
    accuracy = table.column("token_accuracy").to_numpy(zero_copy_only=False)
    matched = table.column("match_prefix_tokens").to_numpy(zero_copy_only=False)
    block = PrefixBlock(
        rows=rows, sequences=rows, draws=draws, exact=hits, exact_rate=_rate(hits, rows),
        token_accuracy=float(accuracy.mean()) if rows else None,
        match_prefix_tokens=float(matched.mean()) if rows else None,
    )
    if draws > 1:
        sequence_ids = table.column("sequence_id").to_numpy(zero_copy_only=False)
        per_hits, per_draws = extraction_probabilities(sequence_ids, exact)
        block.sequences = len(per_draws)
        # p >= t as hits >= t * draws, with slack for 0.1 * 10 not being exactly 1.0
        block.extraction_probability = {
            str(t): _rate(int(np.count_nonzero(per_hits >= t * per_draws - 1e-9)), len(per_draws))
            for t in PROBABILITY_THRESHOLDS
        }
    sample_ids = table.column("sample_id").to_numpy(zero_copy_only=False)
    metrics = {}
    for metric in metric_names:
        scores_of = table.column(f"score_{metric}").to_numpy(zero_copy_only=False)
        recall = {str(e): RecallAt(exact=(k := recall_at_errors(scores_of, exact, sample_ids, e)), share=_rate(k, hits))
                  for e in RECALL_ERRORS}
        metrics[metric] = {STRATEGY: PrefixRecall(recall_at_errors=recall)}
    summary = Discoverable(strategies={STRATEGY: block}, metrics=metrics)
    if "sequence_count" in table.column_names:
        counts = table.column("sequence_count").to_numpy(zero_copy_only=False)
        summary.duplication = _duplication(counts, exact)
    return summary
