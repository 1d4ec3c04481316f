"""Figures of the report as base64 PNG strings: score-vs-perplexity scatters (the paper's
zlib figure) and category bars.

Every axis label comes from `axis_label`, the one place that says what each score column
holds, so a figure cannot claim a quantity it did not plot. Figures are drawn with
matplotlib's Agg canvas directly (no pyplot, no global backend switch), so this module
is safe to import anywhere and needs no display.

It knows score column names (`score_<metric>`, `nll_target`) and nothing about how they
were computed; which samples are candidates or memorized is given to it.
"""

from __future__ import annotations

import base64
import io
import math

import pyarrow as pa

from memx.metrics import label

X_LABEL = "target perplexity = exp(mean NLL per token), log scale"


def axis_label(metric: str) -> str:
    """What a score column holds (docs/formulas.md), from the metrics' one declaration."""
    return label(metric)


def _png(fig) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)  # tight_layout already fits it: no second draw
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _x_values(scatter: pa.Table) -> list[float] | None:
    if "nll_target" in scatter.column_names:
        nll = scatter.column("nll_target").to_pylist()
    elif "score_perplexity" in scatter.column_names:
        nll = [None if v is None else -v for v in scatter.column("score_perplexity").to_pylist()]
    else:
        return None
    # exp overflows past ~709 nats; such samples are off any useful scale anyway
    return [math.exp(min(v, 700.0)) if v is not None else None for v in nll]


def scatter_metrics(scatter: pa.Table) -> list[str]:
    """The metrics a scatter can plot on the y axis: every score column but perplexity."""
    names = [c[len("score_"):] for c in scatter.column_names if c.startswith("score_")]
    names = [m for m in names if m != "perplexity"]
    return sorted(names, key=lambda m: (m != "zlib", m))  # the paper's zlib figure first


def scatter_png(scatter: pa.Table, memorized_ids: set[str], candidate_ids: set[str],
                metrics: list[str] | None = None) -> tuple[str, list[str]] | None:
    """One panel per metric: all subsampled samples, candidates, memorized candidates."""
    from matplotlib.figure import Figure

    xs = _x_values(scatter)
    metrics = metrics if metrics is not None else scatter_metrics(scatter)
    metrics = [m for m in metrics if f"score_{m}" in scatter.column_names][:6]
    if xs is None or not metrics or scatter.num_rows == 0:
        return None
    ids = scatter.column("sample_id").to_pylist()
    cols = min(3, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    fig = Figure(figsize=(5.2 * cols, 4.2 * rows))
    for i, m in enumerate(metrics):
        ax = fig.add_subplot(rows, cols, i + 1)
        ys = scatter.column(f"score_{m}").to_pylist()
        groups = {"sample": ([], []), "candidate": ([], []), "memorized": ([], [])}
        for sid, x, y in zip(ids, xs, ys):
            if x is None or y is None or not math.isfinite(y):
                continue
            g = "memorized" if sid in memorized_ids else "candidate" if sid in candidate_ids else "sample"
            groups[g][0].append(x)
            groups[g][1].append(y)
        style = {"sample": ("#b0b0b0", 6, 0.5), "candidate": ("#3b6fb6", 14, 0.8),
                 "memorized": ("#d62728", 22, 1.0)}
        for g, (gx, gy) in groups.items():
            color, size, alpha = style[g]
            ax.scatter(gx, gy, s=size, c=color, alpha=alpha, linewidths=0, label=f"{g} ({len(gx)})")
        ax.set_xscale("log")
        ax.set_xlabel(X_LABEL, fontsize=8)
        ax.set_ylabel(axis_label(m), fontsize=8)
        ax.set_title(f"{m} vs perplexity", fontsize=10)
        ax.legend(fontsize=7, loc="upper left")  # "best" scans every point: seconds per figure
    fig.tight_layout()
    return _png(fig), metrics


def bar_png(counts: dict[str, int], title: str, xlabel: str) -> str | None:
    from matplotlib.figure import Figure

    if not counts:
        return None
    fig = Figure(figsize=(6.5, 0.45 * len(counts) + 1.2))
    ax = fig.add_subplot(1, 1, 1)
    names = list(counts)[::-1]
    ax.barh(names, [counts[n] for n in names], color="#3b6fb6")
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return _png(fig)
