"""The answer a run exists for, from memorization.json (docs/formulas.md#span): how much each strategy's
samples memorized, and which membership metric finds it best.

One source of numbers, three renderings: rich tables for the terminal (`memx inspect
--summary`, the demo), the rows and grid the report's template draws
(templates/memorization.html.j2, filled by memx.report.html), and one precision@k plot per strategy.
"Best" is precision at k (ties broken by AUC), k the largest of 10, 100, 1000 within the
top tenth of the smallest strategy (100 for the demo's 1,000 samples, 1,000 at the paper's
scale): what a user who checks the top of each ranking by hand gets from it. It knows the layout of memorization.json, not how it was
computed.
"""

from __future__ import annotations

from rich import box
from rich.table import Table

from memx.verify.summary import Memorization, RankingQuality


def percent(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _num(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def strategies_of(memorization: Memorization) -> list[str]:
    return list(memorization.strategies)


def best_k(memorization: Memorization) -> str:
    """The precision@k the headline compares metrics at (see the module docstring)."""
    fewest = min((s.samples for s in memorization.strategies.values()), default=0)
    fitting = [k for k in ("10", "100", "1000") if int(k) <= fewest // 10]
    return fitting[-1] if fitting else "10"


def best_metric(memorization: Memorization, strategy: str) -> tuple[str, float] | None:
    """(metric, precision@k) of the best-ranking metric for a strategy, k = best_k()."""
    k = best_k(memorization)
    ranked = []
    for metric, per in memorization.metrics.items():
        quality = per.get(strategy)  # a dict of the model: a strategy may lack a metric
        if quality and quality.precision_at.get(k) is not None:
            ranked.append((quality.precision_at[k], quality.auc or 0.0, metric))
    if not ranked:
        return None
    precision, _, metric = max(ranked)
    return metric, precision


def headline_rows(memorization: Memorization) -> list[list[str]]:
    rows = []
    for strategy, s in memorization.strategies.items():
        rows.append([strategy, f"{s.samples:,}", f"{s.memorized:,}", percent(s.rate),
                     percent(s.memorized_token_share), f"{s.unique_memorized:,}", _num(s.good_turing_unseen)])
    return rows


HEADLINE_COLUMNS = ("strategy", "samples", "memorized", "rate", "token share", "spans", "unseen (GT)")


def headline_table(memorization: Memorization) -> Table:
    table = Table(title=f"Memorized samples (a verbatim corpus span of >= {memorization.min_match_tokens}"
                        " generated tokens)", box=box.SIMPLE_HEAD)
    for i, column in enumerate(HEADLINE_COLUMNS):
        table.add_column(column, justify="left" if i == 0 else "right", no_wrap=i == 0)
    for row in headline_rows(memorization):
        table.add_row(*row)
    table.caption = ("token share: generated tokens inside a memorized span; spans: distinct memorized "
                     "spans; unseen (GT): Good-Turing chance that the next memorized sample is a new span")
    return table


def metric_grid(memorization: Memorization) -> tuple[str, list[str],
                                                     list[tuple[str, list[tuple[RankingQuality | None, bool]]]]]:
    """(k, strategies, rows): per metric, per strategy its quality (or None) and whether it
    ranks best there; the terminal table and the HTML table render this one grid."""
    strategies = strategies_of(memorization)
    best = {s: (best_metric(memorization, s) or (None, None))[0] for s in strategies}
    rows = [(metric, [(per.get(s), best[s] == metric) for s in strategies])
            for metric, per in memorization.metrics.items()]
    return best_k(memorization), strategies, rows


def metric_table(memorization: Memorization) -> Table:
    """Precision@k (AUC) of every metric per strategy, the best of each column marked."""
    k, strategies, rows = metric_grid(memorization)
    table = Table(title=f"Which metric finds it: precision@{k} (ROC AUC) over all samples", box=box.SIMPLE_HEAD,
                  padding=(0, 1))
    table.add_column("metric", no_wrap=True)
    for s in strategies:
        table.add_column(s, justify="right", no_wrap=True)
    for metric, cells in rows:
        table.add_row(metric, *[("–" if not q else f"{_num(q.precision_at[k])} ({_num(q.auc)})")
                                + ("*" if strong else " ") for q, strong in cells])
    table.caption = f"* best precision@{k} for the strategy"
    return table


def metric_cells(memorization: Memorization) -> tuple[str, list[str], list[tuple[str, list[tuple[str, str, bool]]]]]:
    """The report's grid: per metric, per strategy (strategy, "precision@k / AUC / TPR at 1% FPR", best)."""
    k, strategies, grid = metric_grid(memorization)
    return k, strategies, [(metric, [(s, "–" if not q else f"{_num(q.precision_at[k])} / {_num(q.auc)} / "
                                                          f"{percent(q.tpr_at_fpr['0.01'])}", strong)
                                     for s, (q, strong) in zip(strategies, cells)]) for metric, cells in grid]


def headline_sentence(memorization: Memorization) -> str:
    return ". ".join(headline_points(memorization)) + "."


def headline_points(memorization: Memorization) -> list[str]:
    """One line per strategy: how much it memorized and which metric ranks it best."""
    parts = []
    for strategy, s in memorization.strategies.items():
        best = best_metric(memorization, strategy)
        found = f"; {best[0]} ranks best ({percent(best[1])} of its top {best_k(memorization)})" if best else ""
        parts.append(f"{strategy}: {s.memorized:,} of {s.samples:,} samples memorized "
                     f"({percent(s.rate)}, {s.unique_memorized:,} distinct spans){found}")
    return parts


def curves_png(memorization: Memorization, strategy: str) -> str | None:
    """Precision@k against k (log scale) of every metric for one strategy."""
    from matplotlib.figure import Figure

    from memx.report.plots import _png

    series = {m: per[strategy].precision_curve for m, per in memorization.metrics.items()
              if per.get(strategy) and per[strategy].precision_curve.k}
    if not series:
        return None
    fig = Figure(figsize=(6.0, 3.6))
    ax = fig.add_subplot(1, 1, 1)
    for metric, curve in series.items():
        ax.plot(curve.k, curve.precision, marker=".", linewidth=1.2, label=metric)
    rate = memorization.strategies[strategy].rate
    if rate is not None:
        ax.axhline(rate, color="#999", linestyle="--", linewidth=1, label=f"base rate {100 * rate:.1f}%")
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("k: top samples by the metric's score (log scale)", fontsize=8)
    ax.set_ylabel("precision@k: share memorized", fontsize=8)
    ax.set_title(f"{strategy}: precision@k per metric", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return _png(fig)
