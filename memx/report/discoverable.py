"""The report's discoverable-extraction section, from discoverable.json (SPEC §7): how
often the model continues a true training prefix with the true suffix, how that rate
grows with the sequence's duplication in the corpus (Carlini et al. 2022's figure), and
how many exact extractions each metric ranks before its 100th wrong one.

One run is one prefix length: the section shows that run's length and does not combine
runs (run the strategy once per length and compare their reports or discoverable.json
files). It knows the layout of discoverable.json, nothing about how it was computed.
"""

from __future__ import annotations

from html import escape

from memx.report.headline import percent


def duplication_png(duplication: dict) -> str | None:
    """Exact-extraction rate per sequence_count bucket (buckets with rows only)."""
    from matplotlib.figure import Figure

    from memx.report.plots import _png

    buckets = [(label, entry) for label, entry in duplication.items() if entry["rows"]]
    if not buckets:
        return None
    fig = Figure(figsize=(6.0, 3.2))
    ax = fig.add_subplot(1, 1, 1)
    labels = [label for label, _ in buckets]
    ax.bar(labels, [100 * (entry["exact_rate"] or 0.0) for _, entry in buckets], color="#3b6fb6")
    for x, (_, entry) in enumerate(buckets):
        ax.annotate(f"{entry['exact']}/{entry['rows']}", (x, 100 * (entry["exact_rate"] or 0.0)),
                    ha="center", va="bottom", fontsize=7)
    ax.set_ylim(0, 105)
    ax.set_xlabel("occurrences of the whole prefix + suffix in the corpus index (sequence_count)", fontsize=8)
    ax.set_ylabel("exact extraction rate (%)", fontsize=8)
    ax.set_title("discoverable extraction by duplication", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def discoverable_html(discoverable: dict) -> str:
    block = discoverable["strategies"]["prefix"]
    settings = discoverable.get("settings", {})
    length = (f"{settings.get('prefix_tokens', '?')}-token prefixes, {settings.get('suffix_tokens', '?')}-token "
              f"suffixes, {settings.get('decoding', '?')} decoding, {block.get('draws', 1)} draw(s) per sequence")
    rows = [("sequences", f"{block['sequences']:,}"), ("continuations", f"{block['rows']:,}"),
            ("exact (continuation = true suffix)", f"{block['exact']:,} ({percent(block['exact_rate'])})"),
            ("mean token accuracy", percent(block["token_accuracy"])),
            ("mean leading tokens equal", "–" if block.get("match_prefix_tokens") is None
             else f"{block['match_prefix_tokens']:.1f}")]
    for p, share in (block.get("extraction_probability") or {}).items():
        rows.append((f"sequences extracted with probability >= {p}", percent(share)))
    parts = ["<h2>Discoverable extraction (prefix → true suffix)</h2>",
             f"<p class=\"note\">{escape(length)}; sequences cut from the training data at random offsets "
             "(SPEC §7). This run is one prefix length; compare runs of other lengths side by side.</p>",
             "<table id=\"discoverable\">" + "".join(f"<tr><th>{escape(k)}</th><td class=num>{escape(v)}</td></tr>"
                                                      for k, v in rows) + "</table>"]
    recall = discoverable.get("metrics", {})
    if recall:
        body = "".join(f"<tr><td>{escape(metric)}</td><td class=num>{per['prefix']['recall_at_errors']['100']['exact']}"
                       f"</td><td class=num>{percent(per['prefix']['recall_at_errors']['100']['share'])}</td></tr>"
                       for metric, per in recall.items())
        parts.append("<h3>Targeted attack: exact extractions ranked before the 100th wrong one</h3>"
                     "<table id=\"recall\"><tr><th>metric</th><th>exact before 100 errors</th>"
                     f"<th>share of all exact</th></tr>{body}</table>")
    duplication = discoverable.get("duplication")
    if duplication:
        from memx.report.html import _img

        body = "".join(f"<tr><td>{escape(label)}</td><td class=num>{e['rows']}</td><td class=num>{e['exact']}</td>"
                       f"<td class=num>{percent(e['exact_rate'])}</td></tr>" for label, e in duplication.items())
        parts += ["<h3>Exact extraction by duplication in the corpus</h3>",
                  "<table id=\"duplication\"><tr><th>sequence_count</th><th>continuations</th><th>exact</th>"
                  f"<th>rate</th></tr>{body}</table>", _img(duplication_png(duplication), "exact rate by duplication")]
    return "\n".join(parts)


def canary_audit_html(audit: dict, parameters: dict[str, int] | None = None) -> str:
    """A lab's planted canaries completed from their true prefix (greedy, the same decoding
    as the prefix strategy), by repetition count x model size: discoverable extraction where
    the ground truth is known. `audit` is AuditResult.to_dict()."""
    models = audit["models"]
    sizes = parameters or {}
    head = "<tr><th>repetitions</th><th>canaries</th>" + "".join(
        f"<th>{escape(m)}{f' ({sizes[m]:,} params)' if m in sizes else ''}</th>" for m in models) + "</tr>"
    rows = "".join(
        f"<tr><td class=num>{reps}</td><td class=num>{audit['counts'][reps]}</td>"
        + "".join(f"<td class=num>{percent(audit['table'][reps][m])}</td>" for m in models) + "</tr>"
        for reps in (str(r) for r in audit["repetitions"]))
    return ("<h2>Lab: planted canaries extracted from their prefix, by repetitions and model size</h2>"
            "<p class=\"note\">Each canary's true prefix, continued greedily by each lab model; a cell is the share "
            "of its secrets reproduced exactly. The paper's URL table, with known ground truth.</p>"
            f"<table id=\"canary-audit\">{head}{rows}</table>")
