"""memorization.json (docs/outputs.md): how much each strategy memorized, how well each metric finds it.

`MemorizationSummary(metrics, min_match_tokens)` is fed shard by shard with `add(rows)`;
`result()` returns memorization.json as a `Memorization` (memx.outputs.Output):

- `min_match_tokens`: the verify setting the counts use;

- `strategies.{s}`: samples, memorized, rate, memorized_token_share (the memorized
  spans' tokens over all generated tokens), unique_memorized (distinct memorized spans,
  a span identified by its token ids), memorized_tokens_per_million, good_turing_unseen (spans seen in exactly one
  sample over memorized samples; null when nothing was memorized: there is no estimate);
- `metrics.{metric}.{s}`: precision_at {"10","100","1000"} (memorized share of the top
  min(k, samples) by score descending, ties by sample_id ascending, no de-dup; also
  `precision_curve` {"k": [...], "precision": [...]} at log-spaced k for plots), auc and
  tpr_at_fpr {"0.01","0.001"} (null when the strategy has one class only);
- `duplication.{bucket}`: samples, memorized, rate per corpus_count bucket ("1", "2-3",
  ... ">=64"; corpus_count 0 is in none; rate null for an empty bucket).

Memory: per strategy one float per sample per metric and one memorized flag (AUC needs
every score), the running top 1000 per (metric, strategy) with their sample_ids (the
ordering is total, so the top of a union is the top of the partial tops), and the token
ids of memorized spans only. It knows nothing about storage or how rows were verified.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
# ROC AUC and TPR at a fixed FPR from a well-kept library: hand-written ROC curves get
# ties and degenerate classes subtly wrong, and these figures are what users compare.
from sklearn.metrics import roc_auc_score, roc_curve

from memx.chat.summary import PromptFigures
from memx.outputs import Output
from memx.pii.summary import StrategyPersonalData

TOP_K = (10, 100, 1000)
CURVE_K = tuple(sorted({int(round(k)) for k in np.logspace(0, 3, 31)}))  # 1 ... 1000
FPRS = ("0.01", "0.001")
BUCKETS = (("1", 1, 1), ("2-3", 2, 3), ("4-7", 4, 7), ("8-15", 8, 15), ("16-31", 16, 31),
           ("32-63", 32, 63), (">=64", 64, None))


class StrategyMemorization(Output):
    samples: int
    memorized: int
    rate: float | None
    memorized_token_share: float | None
    memorized_tokens_per_million: float | None = None  # absent in files written before it (docs/chat.md)
    unique_memorized: int
    good_turing_unseen: float | None
    # divergence only (docs/chat.md)
    diverged: int | None = None
    diverged_rate: float | None = None
    no_repetition: int | None = None
    by_prompt: dict[str, PromptFigures] | None = None


class PrecisionCurve(Output):
    k: list[int]
    precision: list[float]


class RankingQuality(Output):
    """How well one metric ranks one strategy's memorized samples first."""
    precision_at: dict[str, float | None]  # "10", "100", "1000"
    precision_curve: PrecisionCurve
    auc: float | None
    tpr_at_fpr: dict[str, float | None]  # "0.01", "0.001"


class SampleBucket(Output):
    samples: int
    memorized: int
    rate: float | None


class Memorization(Output):
    """memorization.json. A new key: one optional field here (`x: X | None = None`), set
    where it is computed; it is written only when set (memx.outputs)."""
    min_match_tokens: int
    strategies: dict[str, StrategyMemorization]
    metrics: dict[str, dict[str, RankingQuality]]  # metric -> strategy -> quality
    duplication: dict[str, SampleBucket]  # corpus_count bucket -> counts
    personal_data: dict[str, StrategyPersonalData] | None = None  # strategy -> counts (docs/personal-data.md)


def _ratio(num: float, den: float) -> float | None:
    return float(num) / float(den) if den else None


class _Strategy:
    """What one strategy's rows leave behind."""

    def __init__(self, metrics: Sequence[str]):
        self.samples = self.memorized = self.generated = self.memorized_tokens = 0
        self.labels: list[np.ndarray] = []
        self.scores: dict[str, list[np.ndarray]] = {m: [] for m in metrics}
        self.top: dict[str, pa.Table | None] = {m: None for m in metrics}
        self.spans: Counter[bytes] = Counter()


class MemorizationSummary:
    """Accumulates verified, scored samples; `result()` is memorization.json."""

    def __init__(self, metrics: Sequence[str], min_match_tokens: int):
        if min_match_tokens < 1:
            raise ValueError("min_match_tokens must be >= 1")
        self.metrics = list(metrics)
        self.min_match_tokens = min_match_tokens
        self._by_strategy: dict[str, _Strategy] = {}
        self._buckets = {name: [0, 0] for name, _, _ in BUCKETS}

    def add(self, rows: pa.Table, strategy: str | None = None) -> None:
        """One batch of rows: sample_id, match_tokens, corpus_count, score_<metric> for
        every metric, n_generated (or token_ids, whose lengths it is), and for the spans
        either span_ids (the matched token ids) or token_ids with match_start/match_end.
        Without `strategy`, a `strategy` column says which rows belong where."""
        if strategy is None:
            for name in pc.unique(rows.column("strategy")).to_pylist():
                self.add(rows.filter(pc.equal(rows.column("strategy"), name)), name)
            return
        if strategy not in self._by_strategy:
            self._by_strategy[strategy] = _Strategy(self.metrics)
        acc = self._by_strategy[strategy]
        match = rows.column("match_tokens").to_numpy().astype(np.int64)
        hit = match >= self.min_match_tokens
        acc.samples += len(match)
        acc.memorized += int(hit.sum())
        acc.memorized_tokens += int(match[hit].sum())
        acc.generated += int(self._n_generated(rows).sum())
        acc.labels.append(hit)
        self._count_spans(acc, rows, hit)
        self._count_buckets(rows.column("corpus_count").to_numpy().astype(np.int64), hit)
        ids = rows.column("sample_id").cast(pa.string())  # one type, so partial tops concatenate
        for metric in self.metrics:
            scores = rows.column(f"score_{metric}").to_numpy().astype(np.float64)
            if np.isnan(scores).any():
                raise ValueError(f"score_{metric}: NaN scores (scoring writes -1e9 for no evidence)")
            acc.scores[metric].append(scores)
            batch = pa.table({"score": scores, "sample_id": ids, "memorized": hit})
            both = batch if acc.top[metric] is None else pa.concat_tables([acc.top[metric], batch])
            order = pc.sort_indices(both, sort_keys=[("score", "descending"), ("sample_id", "ascending")])
            acc.top[metric] = both.take(order[:max(TOP_K)])

    @staticmethod
    def _n_generated(rows: pa.Table) -> np.ndarray:
        if "n_generated" in rows.column_names:
            return rows.column("n_generated").to_numpy()
        return pc.list_value_length(rows.column("token_ids")).to_numpy(zero_copy_only=False)

    @staticmethod
    def _count_spans(acc: _Strategy, rows: pa.Table, hit: np.ndarray) -> None:
        where = np.nonzero(hit)[0]
        if not where.size:
            return
        if "span_ids" in rows.column_names:
            spans = rows.column("span_ids").take(where).to_pylist()
        else:
            starts = rows.column("match_start").to_numpy()[where]
            ends = rows.column("match_end").to_numpy()[where]
            spans = [ids[s:e] for ids, s, e in zip(rows.column("token_ids").take(where).to_pylist(), starts, ends)]
        # a sample counts once per span (a sample has one span), so counts are samples
        acc.spans.update(np.asarray(s, dtype=np.int64).tobytes() for s in spans)

    def _count_buckets(self, corpus_count: np.ndarray, hit: np.ndarray) -> None:
        for name, low, high in BUCKETS:
            inside = (corpus_count >= low) & (corpus_count <= (high if high is not None else np.inf))
            self._buckets[name][0] += int(inside.sum())
            self._buckets[name][1] += int((inside & hit).sum())

    def result(self) -> Memorization:
        strategies, metrics = {}, {m: {} for m in self.metrics}
        for name, acc in self._by_strategy.items():
            labels = np.concatenate(acc.labels)
            strategies[name] = StrategyMemorization(
                samples=acc.samples, memorized=acc.memorized,
                rate=_ratio(acc.memorized, acc.samples),
                memorized_token_share=_ratio(acc.memorized_tokens, acc.generated),
                # comparable across strategies of different lengths (docs/chat.md)
                memorized_tokens_per_million=_ratio(acc.memorized_tokens * 1e6, acc.generated),
                unique_memorized=len(acc.spans),
                good_turing_unseen=_ratio(sum(1 for c in acc.spans.values() if c == 1), acc.memorized),
            )
            for metric in self.metrics:
                metrics[metric][name] = _ranking_quality(
                    labels, np.concatenate(acc.scores[metric]), acc.top[metric])
        duplication = {name: SampleBucket(samples=n, memorized=m, rate=_ratio(m, n))
                       for name, (n, m) in self._buckets.items()}
        return Memorization(min_match_tokens=self.min_match_tokens, strategies=strategies, metrics=metrics,
                            duplication=duplication)


def _ranking_quality(labels: np.ndarray, scores: np.ndarray, top: pa.Table) -> RankingQuality:
    hits = top.column("memorized").to_numpy(zero_copy_only=False)
    precision = {str(k): float(hits[:k].mean()) if len(hits) else None for k in TOP_K}
    # the precision@k curve a report plots: log-spaced k, every one within the samples
    ks = [int(k) for k in CURVE_K if k <= len(hits)] or ([len(hits)] if len(hits) else [])
    cumulative = np.cumsum(hits)
    curve = PrecisionCurve(k=ks, precision=[float(cumulative[k - 1] / k) for k in ks])
    if labels.all() or not labels.any():  # one class: no ROC curve exists
        return RankingQuality(precision_at=precision, precision_curve=curve, auc=None,
                              tpr_at_fpr={x: None for x in FPRS})
    # every point, not sklearn's thinned curve: a dropped collinear point can be the best
    # one at or under a fixed FPR
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    return RankingQuality(precision_at=precision, precision_curve=curve, auc=float(roc_auc_score(labels, scores)),
                          tpr_at_fpr={x: float(tpr[fpr <= float(x)].max()) for x in FPRS})
