"""The run report: one self-contained HTML string that opens offline.

`render_report` leads with the answer when every sample was verified (how much each
strategy memorized, which metric ranks it best, precision@k curves), then the Table 2 analogue
(`<table id="table2">`, every count cell carrying `data-metric`/`data-strategy`, the
total row `data-metric="total unique"`), the score-vs-perplexity scatters, category
counts, the candidate list with each memorized span marked, and last the run's settings,
models and throughput. Styles are inline, figures are base64 PNGs, there is no
script and no external resource. All text from the run is HTML-escaped, and candidate
text is redacted unless `redact=False`.

It knows the candidate and score column names; it reads no files and writes none
(`memx.pipeline.report.report_stage` gathers its inputs and decides where the report goes).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections import Counter
from html import escape
from typing import Callable

import pyarrow as pa

from memx.report.headline import curves_png, headline_html, metric_html, strategies_of
from memx.report.plots import bar_png, scatter_png
from memx.report.redact import masker
from memx.report.tables import TOTAL, filter_candidates, table2

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.total td{font-weight:bold;background:#fafafa}
tr.mem td{background:#fff3f3}
pre{white-space:pre-wrap;word-break:break-word;margin:0;max-height:14em;overflow:auto;
font-size:.85em}
.note{color:#666;font-size:.9em}img{max-width:100%}mark{background:#ffd966}
"""


def _num(v) -> str:
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    return escape(f"{v:,}" if isinstance(v, int) else str(v))


def _settings_html(settings: dict) -> str:
    rows = []
    for key, value in settings.items():
        shown = value if isinstance(value, (str, int, float, bool)) or value is None else \
            json.dumps(value, indent=1, sort_keys=True, default=str)
        rows.append(f"<tr><th>{escape(str(key))}</th><td><pre>{escape(str(shown))}</pre></td></tr>")
    return "<table id=\"settings\">" + "".join(rows) + "</table>"


def _stats_html(stats: dict) -> str:
    first = ["samples", "seconds", "samples_per_s"]
    extra = [k for k in dict.fromkeys(k for v in stats.values() for k in (v or {})) if k not in first]
    keys = first + extra
    head = "<tr><th>stage</th>" + "".join(f"<th>{escape(k.replace('_per_s', '/s'))}</th>" for k in keys) + "</tr>"
    rows = []
    for stage, s in stats.items():
        s = s or {}
        cells = "".join(f"<td class=\"num\">{_num(s.get(k, '–'))}</td>" for k in keys)
        rows.append(f"<tr data-stage=\"{escape(str(stage))}\"><th>{escape(str(stage))}</th>{cells}</tr>")
    return "<table id=\"throughput\">" + head + "".join(rows) + "</table>"


def _names_from_settings(settings: dict) -> tuple[list[str] | None, list[str] | None]:
    """Table 2 row/column order from a resolved config (SPEC §3), when it is one."""
    scoring, generation = settings.get("scoring"), settings.get("generation")
    metrics = strategies = None
    if isinstance(scoring, dict) and isinstance(scoring.get("metrics"), list):
        refs = [r.get("name") for r in settings.get("references") or [] if isinstance(r, dict)]
        metrics = []
        for m in scoring["metrics"]:
            metrics += [f"ratio_{r}" for r in refs] if m == "ratio" else [m]
    if isinstance(generation, dict) and isinstance(generation.get("strategies"), list):
        strategies = list(generation["strategies"])
    return metrics, strategies


def table2_html(t2: dict) -> str:
    """Table 2 as HTML; each count cell carries data-metric / data-strategy attributes."""
    strategies = t2["strategies"]
    head = "<tr><th>metric \\ strategy</th>" + "".join(f"<th>{escape(s)}</th>" for s in strategies) + "</tr>"
    body = []
    for m in t2["metrics"]:
        cells = []
        for s in strategies:
            v, n = t2["counts"][m][s], t2["candidates"][m][s]
            cells.append(f"<td class=\"num\" data-metric=\"{escape(m)}\" data-strategy=\"{escape(s)}\" "
                         f"title=\"{n} candidates\">{'–' if v is None else v}</td>")
        body.append(f"<tr><th>{escape(m)}</th>{''.join(cells)}</tr>")
    total = "".join(f"<td class=\"num\" data-metric=\"{TOTAL}\" data-strategy=\"{escape(s)}\">"
                    f"{'–' if t2['total_unique'][s] is None else t2['total_unique'][s]}</td>" for s in strategies)
    body.append(f"<tr class=\"total\"><th>{TOTAL}</th>{total}</tr>")
    note = "" if t2["verified"] else "<p class=\"note\">Not verified: cells are empty until `memx verify` runs.</p>"
    return f"<table id=\"table2\">{head}{''.join(body)}</table>{note}"


def _img(b64: str | None, alt: str) -> str:
    if not b64:
        return f"<p class=\"note\">{escape(alt)}: nothing to plot.</p>"
    return f"<img alt=\"{escape(alt)}\" src=\"data:image/png;base64,{b64}\">"


def _categories(candidates: pa.Table) -> tuple[Counter, Counter]:
    """Category counts over distinct samples: memorized ones, and all candidates."""
    if "category" not in candidates.column_names:
        return Counter(), Counter()
    rows = candidates.select(["sample_id", "category", "memorized"])
    return _samples_per_category(rows.filter(rows.column("memorized"))), _samples_per_category(rows)


def _samples_per_category(rows: pa.Table) -> Counter:
    """Each sample counted once, under its first row's category. Single-threaded group-bys
    keep first-appearance order, which is how `most_common` orders tied categories."""
    first = rows.group_by("sample_id", use_threads=False).aggregate([("category", "first")])
    per = first.group_by("category_first", use_threads=False).aggregate([([], "count_all")])
    return Counter(dict(zip(per.column("category_first").to_pylist(), per.column("count_all").to_pylist())))


def _categories_html(mem: Counter, every: Counter) -> str:
    if not every:
        return "<p class=\"note\">No categories: the candidates are not verified.</p>"
    rows = "".join(f"<tr data-category=\"{escape(c)}\"><th>{escape(c)}</th><td class=\"num\">{mem.get(c, 0)}</td>"
                   f"<td class=\"num\">{every[c]}</td></tr>" for c, _ in every.most_common())
    table = ("<table id=\"categories\"><tr><th>category</th><th>memorized samples</th>"
             f"<th>candidate samples</th></tr>{rows}</table>")
    return table + _img(bar_png(dict(mem.most_common()), "memorized samples per category",
                                "distinct memorized samples"), "categories of memorized samples")


def _marked(text: str, span: str, redact: bool | Callable[[str], str]) -> str:
    """Escaped text with the memorized span inside <mark>. Text and span are redacted each
    whole before the span is looked for, so a mask never splits at the span's edge (a span
    whose redacted form is not found is simply not marked)."""
    mask = masker(redact)  # True: every type; a run's Masking: its personal_data section
    if mask:
        text, span = mask(text), mask(span)
    at = text.find(span) if span.strip() else -1
    if at < 0:
        return escape(text)
    end = at + len(span)
    return f"{escape(text[:at])}<mark>{escape(text[at:end])}</mark>{escape(text[end:])}"


def _candidates_html(candidates: pa.Table, redact: bool | Callable[[str], str]) -> str:
    verified = "memorized" in candidates.column_names
    ordered = filter_candidates(candidates)
    if verified:  # memorized first, each group in rank order
        mem = ordered.column("memorized").to_pylist()
        ordered = ordered.take(sorted(range(ordered.num_rows), key=lambda i: not mem[i]))
    cols = ["sample_id", "strategy", "metric", "rank", "score"] + \
        (["match_tokens", "memorized", "category"] if verified else []) + ["duplicates"]
    cols = [c for c in cols if c in ordered.column_names]
    head = "".join(f"<th>{escape(c)}</th>" for c in cols) + "<th>text</th>"
    rows = []
    for r in ordered.to_pylist():
        text = _marked(r.get("text") or "", r.get("match_text") or "" if r.get("memorized") else "", redact)
        cells = "".join(f"<td class=\"num\">{_num(r[c])}</td>" if isinstance(r[c], (int, float))
                        and not isinstance(r[c], bool) else f"<td>{escape(str(r[c]))}</td>" for c in cols)
        cls = " class=\"mem\"" if verified and r["memorized"] else ""
        rows.append(f"<tr{cls} data-sample-id=\"{escape(r['sample_id'])}\">{cells}"
                    f"<td><pre>{text}</pre></td></tr>")
    note = ("Personal data (e-mails, phones, keys, long digit runs) is masked; "
            "`memx report --no-redact` shows it." if redact else "Unredacted: contains personal data as generated.")
    return (f"<p class=\"note\">{note}</p><table id=\"candidates\"><tr>{head}</tr>"
            + "".join(rows) + "</table>")


def _answer_html(memorization: dict | None) -> list[str]:
    """The report's opening: how much was memorized, and which metric finds it best."""
    if memorization is None:
        return ["<p class=\"note\">Only the candidates were verified (`verify.scope: candidates`); set "
                "`verify.scope: all` to measure how much of every strategy's output is memorized and how well "
                "each metric ranks it.</p>"]
    parts = ["<h2>How much did the model memorize?</h2>", headline_html(memorization),
             "<h2>Which metric finds it best?</h2>", metric_html(memorization)]
    for strategy in strategies_of(memorization):
        parts.append(_img(curves_png(memorization, strategy), f"precision at k per metric, {strategy}"))
    return parts


def _models_html(models: list[dict] | None) -> str:
    if not models:
        return ""
    head = "<tr><th>role</th><th>name</th><th>model</th><th>parameters</th><th>training split</th></tr>"
    rows = "".join(f"<tr><td>{escape(m['role'])}</td><td>{escape(m['name'])}</td><td>{escape(m['model'])}</td>"
                   f"<td class=num>{_num(m['parameters']) if m.get('parameters') else '–'}</td>"
                   f"<td>{escape(m.get('split') or '–')}</td></tr>" for m in models)
    return f"<table id=\"models\">{head}{rows}</table>"


def render_report(settings: dict, stats: dict, candidates: pa.Table, scatter: pa.Table | None,
                  redact: bool | Callable[[str], str] = True, metric_names=None, strategies=None, memorization: dict | None = None,
                  models: list[dict] | None = None, extra_sections: list[str] | None = None) -> str:
    """The whole report as one HTML document, the answer first and the settings last. Table 2
    rows and columns follow `metric_names`/`strategies`, else the config in `settings`, else
    the data. `models`: role, name, model, parameters, split of each model, when known."""
    from_settings = _names_from_settings(settings)
    metric_names = metric_names if metric_names is not None else from_settings[0]
    strategies = strategies if strategies is not None else from_settings[1]
    t2 = table2(candidates, metric_names, strategies)
    ids = candidates.column("sample_id").to_pylist()
    mem = candidates.column("memorized").to_pylist() if t2["verified"] else [False] * len(ids)
    memorized_ids = {s for s, m in zip(ids, mem) if m}
    title = f"memx report: {settings.get('run_id', 'run')}"
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{escape(title)}</h1>",
             f"<p class=\"note\">Generated {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M UTC}. "
             f"{len(set(ids))} distinct candidate samples in {candidates.num_rows} rows; "
             f"{'–' if t2['total'] is None else t2['total']} memorized.</p>",
             *_answer_html(memorization),
             "<h2>Memorized candidates per metric and strategy (Table 2)</h2>", table2_html(t2),
             "<h2>Score vs perplexity</h2>"]
    plotted = scatter_png(scatter, memorized_ids, set(ids)) if scatter is not None else None
    if plotted:
        png, metrics = plotted
        parts.append(f"<p class=\"note\">{scatter.num_rows} samples (every candidate and a subsample of the rest); "
                     f"y axes: {escape(', '.join(metrics))}; red = memorized candidates, "
                     "blue = other candidates, grey = other samples.</p>")
        parts.append(_img(png, "score versus perplexity"))
    else:
        parts.append("<p class=\"note\">No score sample to plot.</p>")
    parts += ["<h2>Categories</h2>", _categories_html(*_categories(candidates)),
              "<h2>Candidates</h2>", _candidates_html(candidates, redact), *(extra_sections or []),
              "<h2>Settings</h2>", _models_html(models), _settings_html(settings),
              "<h2>Throughput</h2>", _stats_html(stats), "</body></html>"]
    return "\n".join(parts)


def render_extraction_report(settings: dict, stats: dict, sections: list[str], models: list[dict] | None = None) -> str:
    """The report of a run without sampling (`strategies: []`, SPEC §9): its sections (the
    extraction section), then settings, models and throughput."""
    title = f"memx report: {settings.get('run_id', 'run')}"
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{escape(title)}</h1>",
             f"<p class=\"note\">Generated {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M UTC}. An extraction-only "
             "run: no samples were generated, so there are no candidates.</p>", *sections,
             "<h2>Settings</h2>", _models_html(models), _settings_html(settings),
             "<h2>Throughput</h2>", _stats_html(stats), "</body></html>"]
    return "\n".join(parts)
