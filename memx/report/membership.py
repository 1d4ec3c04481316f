"""The membership section of the report and of the terminal (docs/membership.md): the verdict
first, in words; then a table metric × (AUC, TPR at 1% and at 0.1% FPR, each with its 95%
interval) whose last row is the blind baseline; then ROC curves on log-log axes drawn from
the shard scores (the low-FPR corner, where an attack that matters must work, is visible
only on log axes).

`membership_lines` is the terminal's form (80 columns); `membership_html` renders the
template `templates/membership.html.j2`. It reads no storage: the caller gives the
`MembershipSummary` and both sides' score columns.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from memx.membership.evaluate import FPRS, Figures
from memx.membership.summary import MembershipSummary

BLIND_ROW = "blind baseline"
_NAME = 16  # the metric column; 16 + 3 x 21 = 79 columns


def _cell(value: float, interval) -> str:
    return f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"


def table_rows(summary: MembershipSummary) -> list[tuple[str, list[str]]]:
    """(row name, [AUC, TPR at each FPR] cells): every metric, then the blind baseline."""
    def cells(f: Figures) -> list[str]:
        return [_cell(f.auc, f.auc_ci95)] + [_cell(f.tpr_at_fpr[f"{a:g}"], f.tpr_at_fpr_ci95[f"{a:g}"]) for a in FPRS]

    rows = [(name, cells(figures)) for name, figures in summary.metrics.items()]
    return rows + ([(BLIND_ROW, cells(summary.blind))] if summary.blind is not None else [])


def headers() -> list[str]:
    return ["AUC [95% CI]"] + [f"TPR@{100 * a:g}%FPR [95% CI]" for a in FPRS]


def membership_lines(summary: MembershipSummary) -> list[str]:
    """The verdict sentence, then the table, each line at most 80 columns."""
    head = f"{'metric':<{_NAME}}" + "".join(f"{h:>21}" for h in headers())
    lines = [summary.sentence(), f"{summary.members} members, {summary.nonmembers} non-members; "
             f"verdict: {summary.verdict}", head]
    for name, cells in table_rows(summary):
        lines.append(f"{name[:_NAME - 1]:<{_NAME}}" + "".join(f"{c:>21}" for c in cells))
    return lines


def roc_png(members: pa.Table, nonmembers: pa.Table, metric_names: list[str]) -> str | None:
    """Every metric's ROC curve on log-log axes (FPR from 1/non-members up), as base64 PNG."""
    from matplotlib.figure import Figure
    from sklearn.metrics import roc_curve

    from memx.report.plots import _png

    keep_m = members.column("tokens").to_numpy() >= 2
    keep_n = nonmembers.column("tokens").to_numpy() >= 2
    n1, n0 = int(keep_m.sum()), int(keep_n.sum())
    if n1 < 1 or n0 < 1:
        return None
    labels = np.r_[np.ones(n1), np.zeros(n0)]
    fig = Figure(figsize=(5.5, 5))
    ax = fig.add_subplot(1, 1, 1)
    low = 1.0 / max(n0, n1)
    for name in metric_names:
        scores = np.r_[members.column(f"score_{name}").to_numpy()[keep_m],
                       nonmembers.column(f"score_{name}").to_numpy()[keep_n]]
        fpr, tpr, _ = roc_curve(labels, scores)
        # a zero rate has no place on a log axis: it is drawn at the smallest rate the sets can show
        ax.step(np.maximum(fpr, low), np.maximum(tpr, low), where="post", label=name, linewidth=1.2)
    grid = np.logspace(np.log10(low), 0, 50)
    ax.plot(grid, grid, linestyle="--", color="grey", linewidth=0.8, label="chance")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(low, 1)
    ax.set_ylim(low, 1.05)
    ax.set_xlabel(f"false positive rate ({n0} non-members), log scale", fontsize=9)
    ax.set_ylabel(f"true positive rate ({n1} members), log scale", fontsize=9)
    ax.set_title("ROC of each score", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return _png(fig)


def membership_html(summary: MembershipSummary, members: pa.Table, nonmembers: pa.Table,
                    metric_names: list[str]) -> str:
    """The report's section: verdict, table (blind baseline last), ROC curves."""
    from jinja2 import Environment, PackageLoader

    env = Environment(loader=PackageLoader("memx.report", "templates"), autoescape=True)
    return env.get_template("membership.html.j2").render(
        summary=summary, headers=headers(), rows=table_rows(summary), blind_row=BLIND_ROW,
        roc=roc_png(members, nonmembers, metric_names))
