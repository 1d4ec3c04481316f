"""The report's discoverable-extraction section, from discoverable.json (docs/outputs.md): how
often the model continues a true training prefix with the true suffix, how that rate
grows with the sequence's duplication in the corpus (Carlini et al. 2022's figure), and
how many exact extractions each metric ranks before its 100th wrong one.

One run is one prefix length: the section shows that run's length and does not combine
runs (run the strategy once per length and compare their reports or discoverable.json
files). It knows the layout of discoverable.json, nothing about how it was computed.
"""

from __future__ import annotations

from memx.discoverable import Discoverable, RowBucket
from memx.report.headline import percent
from memx.report.html import Section
from memx.report.render import render


def duplication_png(duplication: dict[str, RowBucket]) -> str | None:
    """Exact-extraction rate per sequence_count bucket (buckets with rows only)."""
    from matplotlib.figure import Figure

    from memx.report.plots import _png

    buckets = [(label, entry) for label, entry in duplication.items() if entry.rows]
    if not buckets:
        return None
    fig = Figure(figsize=(6.0, 3.2))
    ax = fig.add_subplot(1, 1, 1)
    labels = [label for label, _ in buckets]
    ax.bar(labels, [100 * (entry.exact_rate or 0.0) for _, entry in buckets], color="#3b6fb6")
    for x, (_, entry) in enumerate(buckets):
        ax.annotate(f"{entry.exact}/{entry.rows}", (x, 100 * (entry.exact_rate or 0.0)),
                    ha="center", va="bottom", fontsize=7)
    ax.set_ylim(0, 105)
    ax.set_xlabel("occurrences of the whole prefix + suffix in the corpus index (sequence_count)", fontsize=8)
    ax.set_ylabel("exact extraction rate (%)", fontsize=8)
    ax.set_title("discoverable extraction by duplication", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def discoverable_section(discoverable: Discoverable) -> Section:
    block = discoverable.strategies["prefix"]
    settings = discoverable.settings or {}
    length = (f"{settings.get('prefix_tokens', '?')}-token prefixes, {settings.get('suffix_tokens', '?')}-token "
              f"suffixes, {settings.get('decoding', '?')} decoding, {block.draws} draw(s) per sequence")
    rows = [("sequences", f"{block.sequences:,}"), ("continuations", f"{block.rows:,}"),
            ("exact (continuation = true suffix)", f"{block.exact:,} ({percent(block.exact_rate)})"),
            ("mean token accuracy", percent(block.token_accuracy)),
            ("mean leading tokens equal", "–" if block.match_prefix_tokens is None
             else f"{block.match_prefix_tokens:.1f}")]
    for p, share in (block.extraction_probability or {}).items():
        rows.append((f"sequences extracted with probability >= {p}", percent(share)))
    recall = [(metric, per["prefix"].recall_at_errors["100"].exact, percent(per["prefix"].recall_at_errors["100"].share))
              for metric, per in discoverable.metrics.items()]
    duplication = discoverable.duplication
    return Section("Discoverable extraction (prefix → true suffix)", render(
        "discoverable.html.j2", length=length, rows=rows, recall=recall,
        duplication=[(label, e, percent(e.exact_rate)) for label, e in (duplication or {}).items()],
        png=duplication_png(duplication) if duplication else None))


def canary_audit_section(audit: dict, parameters: dict[str, int] | None = None) -> Section:
    """A lab's planted canaries completed from their true prefix (greedy, the same decoding
    as the prefix strategy), by repetition count x model size: discoverable extraction where
    the ground truth is known. `audit` is AuditResult.to_dict()."""
    sizes = parameters or {}
    models = [f"{m} ({sizes[m]:,} params)" if m in sizes else m for m in audit["models"]]
    rows = [(reps, audit["counts"][reps], [percent(audit["table"][reps][m]) for m in audit["models"]])
            for reps in (str(r) for r in audit["repetitions"])]
    return Section("Lab: planted canaries extracted from their prefix, by repetitions and model size",
                   render("canary_audit.html.j2", models=models, rows=rows))
