"""The report's exact-extraction section (docs/outputs.md), from extraction.json and the window rows.

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

import numpy as np
import pyarrow as pa

from memx.extraction.summary import Extraction, ExtractionSettings
from memx.report.extraction_maps import MAPS, document_label, maps_html, pick_documents
from memx.report.headline import percent
from memx.report.html import Section
from memx.report.plots import _png
from memx.report.render import render


def _summary_rows(summary: Extraction) -> tuple[list[str], list[tuple[str, list[str]]]]:
    blocks = summary.prefix_tokens
    levels = list(next(iter(blocks.values())).p_at_least) if blocks else []
    rows = [(k, [f"{b.windows:,}", f"{b.documents:,}", percent(b.greedy_exact_rate),
                 *[percent(b.p_at_least[t]) for t in levels],
                 "−∞" if b.median_log_p is None else f"{b.median_log_p:.2f}", percent(b.token_accuracy)])
            for k, b in blocks.items()]
    return levels, rows


def _queries_rows(summary: Extraction) -> list[tuple[str, str, list[str]]]:
    blocks = summary.prefix_tokens
    budgets = list(next(iter(blocks.values())).queries) if blocks else []
    return [(n, f"{int(n):,}", [percent(b.queries[n][level]) for b in blocks.values() for level in ("0.5", "0.9")])
            for n in budgets]


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


def sweep_png(summary: Extraction) -> str | None:
    from matplotlib.figure import Figure

    lengths = sorted(summary.prefix_tokens, key=int)
    if len(lengths) < 2:
        return None
    blocks = [summary.prefix_tokens[k] for k in lengths]
    x = [int(k) for k in lengths]
    fig = Figure(figsize=(8.0, 3.0))
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    left.plot(x, [100 * (b.greedy_exact_rate or 0.0) for b in blocks], marker="o", color="#3b6fb6")
    left.set_ylabel("greedy-exact windows (%)", fontsize=8)
    medians = [(k, b.median_log_p) for k, b in zip(x, blocks) if b.median_log_p is not None]
    right.plot([k for k, _ in medians], [m for _, m in medians], marker="o", color="#d62728")
    right.set_ylabel("median log p_z (nats)", fontsize=8)
    for ax in (left, right):
        ax.set_xlabel("prefix tokens k", fontsize=8)
    fig.suptitle("longer prefixes: how extraction grows", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def _scheme(settings: ExtractionSettings, greedy: str, top_k: str) -> str:
    decoding = settings.decoding
    return greedy if decoding == "greedy" else top_k.format(k=decoding.top_k, t=decoding.temperature)


def extraction_sections(summary: Extraction, rows: pa.Table, texts: dict[int, str | None],
                        redact: bool = True) -> list[Section]:
    """The section (summary, (n, p) table, histogram, duplication, sweep) and, as a long
    section after every summary, the memorization maps."""
    levels, summary_rows = _summary_rows(summary)
    html = render("extraction.html.j2", settings=summary.settings,
                  scheme=_scheme(summary.settings, "greedy decoding", "top-k decoding (k = {k}, T = {t})"),
                  levels=levels, summary=summary_rows, lengths=list(summary.prefix_tokens),
                  queries=_queries_rows(summary), histogram=histogram_png(rows),
                  duplication=[(label, f"{e.windows:,}", percent(e.p_at_least_half))
                               for label, e in (summary.duplication or {}).items()],
                  sweep=sweep_png(summary))
    return [Section("Exact extraction probability (every window, one forward pass each)", html),
            Section(f"Memorization maps of the {MAPS} most extractable documents",
                    maps_html(summary, rows, texts, redact), long=True)]


def _p(value: float | None) -> str:
    if value is None:
        return "–"
    return "0" if value == 0 else f"{value:.2g}"


def canary_extraction_section(table: dict, suffix_tokens: int | None = None) -> Section | None:
    """The lab's canaries by repetitions in probabilities (`memx.lab.extraction.by_repetitions`)."""
    if not table:
        return None
    lengths = sorted({k for per in table.values() for k in per})
    rows = [(reps, next(iter(per.values()))["canaries"],
             [cell for k in lengths for cell in (per[k].get("measured", "–"), _p(per[k]["median_p"]),
                                                 percent(per[k]["p_at_least_0.5"]), percent(per[k]["greedy_exact"]))])
            for reps, per in table.items()]
    within = f"its {suffix_tokens}-token suffix" if suffix_tokens else "its suffix"
    return Section("Lab: planted canaries' extraction probability, by repetitions",
                   render("canary_extraction.html.j2", lengths=lengths, rows=rows, within=within))


def canary_extraction_lines(table: dict) -> list[str]:
    """The same table for a terminal: one line per repetition count, 80 columns."""
    lengths = sorted({k for per in table.values() for k in per})
    lines = ["repetitions  canaries  " + "  ".join(f"k={k}: held whole  median p_z  p_z>=0.5" for k in lengths)]
    for reps, per in table.items():
        cells = "  ".join(f"{per[k].get('measured', '–'):>16}  {_p(per[k]['median_p']):>10}  "
                          f"{percent(per[k]['p_at_least_0.5']):>8}" for k in lengths)
        lines.append(f"{reps:>11}  {next(iter(per.values()))['canaries']:>8}  {cells}")
    return lines


def extraction_headline(summary: Extraction) -> list[str]:
    """The terminal headline of extraction.json (`memx inspect RUN --summary`, the demo)."""
    settings = summary.settings
    lines = [f"exact extraction: {settings.documents_read} documents, suffixes of "
             f"{settings.suffix_tokens} tokens every {settings.stride_tokens}, "
             f"{_scheme(settings, 'greedy', 'top-k {k}')}"]
    for k, block in summary.prefix_tokens.items():
        budget = max(block.queries, key=int) if block.queries else None
        within = f"; within {int(budget):,} queries {percent(block.queries[budget]['0.5'])} w.p. >= 0.5" \
            if budget else ""
        lines.append(f"  prefix {k}: {block.windows:,} windows, greedy exact {percent(block.greedy_exact_rate)}, "
                     f"p_z >= 0.5 {percent(block.p_at_least['0.5'])}{within}")
    best = pick_documents(summary, 1)
    if best and best[0].extractable_chars:
        lines.append(f"  most extractable: {document_label(best[0])}, {percent(best[0].extractable_chars)} of its "
                     "characters")
    return lines
