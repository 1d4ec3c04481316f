"""The membership metrics, declared once (docs/formulas.md#metrics): each one's name, what its score column
holds (the report's label), the evidence the scoring pass must gather for it beyond the
target's token log-probs, and the formula that turns that evidence into the score.

Config validation (`scoring.metrics`), the scoring pass (`memx.scoring.score`) and the report
(`memx.report.plots`) read this table; a metric is added here plus its formula in
`memx.scoring.metrics` (`score_<name>(evidence)`). Higher = more likely memorized, for all.
`ratio` is a family: `ratio_<ref>` per reference model a config names. Pure: no torch here.
"""

from __future__ import annotations

from dataclasses import dataclass

# Evidence a metric may need beyond the target's per-token log-probs:
REFERENCE = "reference"  # a reference model's NLL (ratio_<ref>)
LOWERCASE = "lowercase"  # the target's NLL of the lowercased text
ZLIB = "zlib"  # the text's zlib-compressed size
WINDOW = "window"  # the worst sliding-window NLL
MOMENTS = "moments"  # the mean and spread of each position's log-prob over the vocabulary (Min-K%++)


@dataclass(frozen=True)
class Metric:
    name: str
    label: str  # what the score column holds
    needs: frozenset[str] = frozenset()
    formula: str | None = None  # `memx.scoring.metrics.<formula>(evidence)`; ratio's is per reference


METRICS: tuple[Metric, ...] = (
    Metric("perplexity", "perplexity score = −NLL_target (mean per token)", formula="score_perplexity"),
    Metric("ratio", "ratio score = NLL_{ref} / NLL_target", frozenset({REFERENCE})),
    Metric("zlib", "zlib score = zlib bytes / NLL_target", frozenset({ZLIB}), "score_zlib"),
    Metric("lowercase", "lowercase score = NLL_target(lowercased) / NLL_target", frozenset({LOWERCASE}),
           "score_lowercase"),
    Metric("window", "window score = −min over 50-token windows of mean NLL_target", frozenset({WINDOW}),
           "score_window"),
    Metric("min_k", "Min-K% score = mean of the lowest 20% token log-probs", formula="score_min_k"),
    Metric("min_k_plus_plus", "Min-K%++ score = mean of the lowest 20% normalised log-probs", frozenset({MOMENTS}),
           "score_min_k_plus_plus"),
)
METRIC_NAMES: tuple[str, ...] = tuple(metric.name for metric in METRICS)
_BY_NAME = {metric.name: metric for metric in METRICS}


def metric_named(name: str) -> Metric:
    """The declaration behind a concrete metric name (`ratio_<ref>` -> ratio)."""
    family = "ratio" if name.startswith("ratio_") else name
    if family not in _BY_NAME:
        raise ValueError(f"unknown metric {name!r} (metrics: {', '.join(METRIC_NAMES)})")
    return _BY_NAME[family]


def label(name: str) -> str:
    """The report's label of a concrete metric's score column."""
    if name.startswith("ratio_"):
        return _BY_NAME["ratio"].label.replace("{ref}", name.removeprefix("ratio_"))
    return _BY_NAME[name].label if name in _BY_NAME else f"{name} score"


def evidence_needed(names) -> set[str]:
    """Every piece of evidence the scoring pass gathers for these concrete metrics."""
    return set().union(*(metric_named(name).needs for name in names))
