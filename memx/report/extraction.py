"""The report's exact-extraction section (SPEC §9), from extraction.json and the window rows.

- the summary per prefix length (windows, documents, greedy-exact rate, shares of windows
  with p_z at least 0.001 … 0.9, median log p, token accuracy);
- the (n, p) table: per query budget n, the share of windows extracted with probability
  at least 0.5 / 0.9 within n queries;
- a histogram of log10 p_z per prefix length (windows the scheme cannot produce, p_z = 0,
  are counted in the legend: they have no logarithm);
- the memorization maps of the 20 most extractable documents (`extraction_maps`);
- with several prefix lengths, greedy-exact rate and median log p against prefix length.

Also the lab's canary table in probabilities and the terminal headline. It knows
extraction.json's layout and the row columns; the caller gives the documents' texts (it
reads nothing) and decides where the HTML goes.
"""

from __future__ import annotations

import math
from html import escape

import numpy as np
import pyarrow as pa

from memx.report.extraction_maps import MAPS, document_label, maps_html, pick_documents
from memx.report.headline import percent
from memx.report.html import _img
from memx.report.plots import _png


def _summary_table(summary: dict) -> str:
    levels = list(next(iter(summary["prefix_tokens"].values()))["p_at_least"]) if summary["prefix_tokens"] else []
    head = ("<tr><th>prefix tokens</th><th>windows</th><th>documents</th><th>greedy exact</th>"
            + "".join(f"<th>p_z ≥ {escape(t)}</th>" for t in levels) + "<th>median log p_z</th>"
            "<th>token accuracy</th></tr>")
    rows = []
    for k, block in summary["prefix_tokens"].items():
        median = block.get("median_log_p")
        rows.append(f"<tr data-prefix-tokens=\"{escape(k)}\"><td class=num>{escape(k)}</td>"
                    f"<td class=num>{block['windows']:,}</td><td class=num>{block['documents']:,}</td>"
                    f"<td class=num>{percent(block['greedy_exact_rate'])}</td>"
                    + "".join(f"<td class=num>{percent(block['p_at_least'][t])}</td>" for t in levels)
                    + f"<td class=num>{'−∞' if median is None else f'{median:.2f}'}</td>"
                    f"<td class=num>{percent(block.get('token_accuracy'))}</td></tr>")
    return f"<table id=\"extraction-summary\">{head}{''.join(rows)}</table>"


def _queries_table(summary: dict) -> str:
    lengths = list(summary["prefix_tokens"])
    budgets = list(summary["prefix_tokens"][lengths[0]]["queries"]) if lengths else []
    head = "<tr><th>queries n</th>" + "".join(f"<th>k = {escape(k)}: p ≥ 0.5</th><th>k = {escape(k)}: p ≥ 0.9</th>"
                                              for k in lengths) + "</tr>"
    rows = "".join(f"<tr data-queries=\"{escape(n)}\"><td class=num>{int(n):,}</td>" + "".join(
        f"<td class=num>{percent(summary['prefix_tokens'][k]['queries'][n]['0.5'])}</td>"
        f"<td class=num>{percent(summary['prefix_tokens'][k]['queries'][n]['0.9'])}</td>" for k in lengths) + "</tr>"
        for n in budgets)
    return f"<table id=\"extraction-queries\">{head}{rows}</table>"


def histogram_png(rows: pa.Table) -> str | None:
    from matplotlib.figure import Figure

    if rows.num_rows == 0:
        return None
    k_of, log_p = rows.column("prefix_tokens").to_numpy(), rows.column("log_p").to_numpy()
    finite = np.isfinite(log_p)
    log10 = log_p[finite] / math.log(10)
    low = math.floor(min(log10.min(), -1.0)) if len(log10) else -1.0
    bins = np.linspace(low, 0.0, 41)
    fig = Figure(figsize=(7.0, 3.4))
    ax = fig.add_subplot(1, 1, 1)
    for k in sorted(set(k_of.tolist())):
        mine = k_of == k
        zero = int(np.count_nonzero(mine & ~finite))
        ax.hist(log_p[mine & finite] / math.log(10), bins=bins, histtype="step", linewidth=1.4,
                label=f"k = {k}: {int(mine.sum()):,} windows ({zero:,} with p_z = 0)")
    ax.set_yscale("log")
    ax.set_xlabel("log10 p_z (probability the decoding scheme reproduces the suffix)", fontsize=8)
    ax.set_ylabel("windows", fontsize=8)
    ax.set_title("exact extraction probability of every window", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def sweep_png(summary: dict) -> str | None:
    from matplotlib.figure import Figure

    lengths = sorted(summary["prefix_tokens"], key=int)
    if len(lengths) < 2:
        return None
    blocks = [summary["prefix_tokens"][k] for k in lengths]
    x = [int(k) for k in lengths]
    fig = Figure(figsize=(8.0, 3.0))
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    left.plot(x, [100 * (b["greedy_exact_rate"] or 0.0) for b in blocks], marker="o", color="#3b6fb6")
    left.set_ylabel("greedy-exact windows (%)", fontsize=8)
    medians = [(k, b["median_log_p"]) for k, b in zip(x, blocks) if b.get("median_log_p") is not None]
    right.plot([k for k, _ in medians], [m for _, m in medians], marker="o", color="#d62728")
    right.set_ylabel("median log p_z (nats)", fontsize=8)
    for ax in (left, right):
        ax.set_xlabel("prefix tokens k", fontsize=8)
    fig.suptitle("longer prefixes: how extraction grows", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def extraction_html(summary: dict, rows: pa.Table, texts: dict[int, str | None], redact: bool = True) -> str:
    settings = summary.get("settings", {})
    decoding = settings.get("decoding")
    scheme = "greedy decoding" if decoding == "greedy" else \
        f"top-k decoding (k = {decoding.get('top_k')}, T = {decoding.get('temperature')})" if decoding else "?"
    parts = ["<h2>Exact extraction probability (every window, one forward pass each)</h2>",
             f"<p class=\"note\">{escape(str(settings.get('documents_read', '?')))} documents of "
             f"{escape(str(settings.get('source', '?')))}; a suffix of {settings.get('suffix_tokens', '?')} tokens every "
             f"{settings.get('stride_tokens', '?')} tokens, after a prefix of k tokens; p_z = the probability that "
             f"{escape(scheme)} reproduces the suffix from its true prefix (SPEC §9).</p>",
             _summary_table(summary),
             "<h3>Extraction within n queries: share of windows with 1 − (1 − p_z)^n at least 0.5 / 0.9</h3>",
             _queries_table(summary), _img(histogram_png(rows), "log10 p_z histogram")]
    duplication = summary.get("duplication")
    if duplication:
        body = "".join(f"<tr><td>{escape(label)}</td><td class=num>{e['windows']:,}</td>"
                       f"<td class=num>{percent(e['p_at_least_0.5'])}</td></tr>" for label, e in duplication.items())
        parts += ["<h3>Extraction by duplication in the corpus</h3>",
                  "<table id=\"extraction-duplication\"><tr><th>sequence_count (prefix + suffix in the index)</th>"
                  f"<th>windows</th><th>p_z ≥ 0.5</th></tr>{body}</table>"]
    sweep = sweep_png(summary)
    if sweep:
        parts += ["<h3>Prefix-length sweep</h3>", _img(sweep, "greedy exact and median log p vs prefix length")]
    parts += [f"<h3>Memorization maps of the {MAPS} most extractable documents</h3>",
              maps_html(summary, rows, texts, redact)]
    return "\n".join(parts)


def _p(value: float | None) -> str:
    if value is None:
        return "–"
    return "0" if value == 0 else f"{value:.2g}"


def canary_extraction_html(table: dict, suffix_tokens: int | None = None) -> str:
    """The lab's canaries by repetitions in probabilities (`memx.lab.extraction.by_repetitions`)."""
    if not table:
        return ""
    lengths = sorted({k for per in table.values() for k in per})
    head = "<tr><th>repetitions</th><th>canaries</th>" + "".join(
        f"<th>k = {k}: held whole</th><th>k = {k}: median p_z</th><th>k = {k}: p_z ≥ 0.5</th>"
        f"<th>k = {k}: greedy exact</th>" for k in lengths) + "</tr>"
    rows = "".join(f"<tr data-repetitions=\"{reps}\"><td class=num>{reps}</td>"
                   f"<td class=num>{next(iter(per.values()))['canaries']}</td>" + "".join(
                       f"<td class=num>{per[k].get('measured', '–')}</td><td class=num>{_p(per[k]['median_p'])}</td>"
                       f"<td class=num>{percent(per[k]['p_at_least_0.5'])}</td>"
                       f"<td class=num>{percent(per[k]['greedy_exact'])}</td>" for k in lengths) + "</tr>"
                   for reps, per in table.items())
    within = f"its {suffix_tokens}-token suffix" if suffix_tokens else "its suffix"
    return ("<h3>Lab: planted canaries' extraction probability, by repetitions</h3>"
            f"<p class=\"note\">For each canary, the largest p_z of a window whose suffix holds the whole secret "
            f"(the secret and the text around it within {escape(within)}, from the true prefix before it); "
            "\"held whole\": canaries some window holds whole (a secret longer than the suffix allows at the stride "
            "has none); the other columns are over those. The audit's canary table, in probabilities.</p>"
            f"<table id=\"canary-extraction\">{head}{rows}</table>")


def canary_extraction_lines(table: dict) -> list[str]:
    """The same table for a terminal: one line per repetition count, 80 columns."""
    lengths = sorted({k for per in table.values() for k in per})
    lines = ["repetitions  canaries  " + "  ".join(f"k={k}: held whole  median p_z  p_z>=0.5" for k in lengths)]
    for reps, per in table.items():
        cells = "  ".join(f"{per[k].get('measured', '–'):>16}  {_p(per[k]['median_p']):>10}  "
                          f"{percent(per[k]['p_at_least_0.5']):>8}" for k in lengths)
        lines.append(f"{reps:>11}  {next(iter(per.values()))['canaries']:>8}  {cells}")
    return lines


def extraction_headline(summary: dict) -> list[str]:
    """The terminal headline of extraction.json (`memx inspect RUN --summary`, the demo)."""
    settings = summary.get("settings", {})
    decoding = settings.get("decoding")
    scheme = "greedy" if decoding == "greedy" else f"top-k {decoding.get('top_k')}" if decoding else "?"
    lines = [f"exact extraction: {settings.get('documents_read', '?')} documents, suffixes of "
             f"{settings.get('suffix_tokens', '?')} tokens every {settings.get('stride_tokens', '?')}, {scheme}"]
    for k, block in summary["prefix_tokens"].items():
        budget = max(block["queries"], key=int) if block["queries"] else None
        within = f"; within {int(budget):,} queries {percent(block['queries'][budget]['0.5'])} w.p. >= 0.5" \
            if budget else ""
        lines.append(f"  prefix {k}: {block['windows']:,} windows, greedy exact {percent(block['greedy_exact_rate'])}, "
                     f"p_z >= 0.5 {percent(block['p_at_least']['0.5'])}{within}")
    best = pick_documents(summary, 1)
    if best and best[0]["extractable_chars"]:
        lines.append(f"  most extractable: {document_label(best[0])}, {percent(best[0]['extractable_chars'])} of its "
                     "characters")
    return lines
