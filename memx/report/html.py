"""The run report: one self-contained HTML string that opens offline, rendered from the
jinja2 templates in memx/report/templates/ (base.html.j2 lays out the page).

A report is a list of `Section(title, html, long)`: `render_report` builds its own (the
answer when every sample was verified: how much each strategy memorized, which metric ranks
it best, precision@k curves; the Table 2 analogue, `<table id="table2">`, every count cell
carrying `data-metric`/`data-strategy`, the total row `data-metric="total unique"`; the
score-vs-perplexity scatter; category counts; the candidate list, a long one) and appends
the caller's (discoverable, extraction, a lab's canaries). base.html.j2 shows every summary
section first, in that order, then every long section, then the settings, models and
throughput. Styles are inline, figures are base64 PNGs, there is no script and no
external resource. All text from the run is HTML-escaped by the templates, and candidate
text is redacted unless `redact=False`.

It knows the candidate and score column names; it reads no files and writes none
(`memx.pipeline.report.report_stage` gathers its inputs and decides where the report goes).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections import Counter
from typing import Callable, NamedTuple

import pyarrow as pa

from memx.report.headline import (HEADLINE_COLUMNS, curves_png, headline_points, headline_rows, metric_cells,
                                  strategies_of)
from memx.report.plots import bar_png, scatter_png
from memx.report.redact import masker
from memx.report.render import render
from memx.report.tables import TOTAL, filter_candidates, table2
from memx.verify.summary import Memorization


def _num(v) -> str:
    """A number as the report shows it (the template escapes it)."""
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


class Section(NamedTuple):
    """One part of the report: its heading, its HTML (rendered from its own template), and
    whether it is a long list (shown after every summary section)."""
    title: str
    html: str
    long: bool = False


def _settings_html(settings: dict, models: list[dict] | None) -> str:
    shown = [(str(key), value if isinstance(value, (str, int, float, bool)) or value is None
              else json.dumps(value, indent=1, sort_keys=True, default=str)) for key, value in settings.items()]
    rows = [{"role": m["role"], "name": m["name"], "model": m["model"],
             "parameters": _num(m["parameters"]) if m.get("parameters") else "–", "split": m.get("split") or "–"}
            for m in models or []]
    return render("settings.html.j2", settings=shown, models=rows)


def _stats_html(stats: dict) -> str:
    first = ["samples", "seconds", "samples_per_s"]
    extra = [k for k in dict.fromkeys(k for v in stats.values() for k in (v or {})) if k not in first]
    keys = first + extra
    rows = [(str(stage), [_num((s or {}).get(k, "–")) for k in keys]) for stage, s in stats.items()]
    return render("throughput.html.j2", keys=keys, rows=rows)


def _names_from_settings(settings: dict) -> tuple[list[str] | None, list[str] | None]:
    """Table 2 row/column order from a resolved config (docs/config.md), when it is one."""
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
    return render("table2.html.j2", t2=t2, total=TOTAL)


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
    rows = [(c, mem.get(c, 0), every[c]) for c, _ in every.most_common()]
    png = bar_png(dict(mem.most_common()), "memorized samples per category", "distinct memorized samples") \
        if every else None
    return render("categories.html.j2", rows=rows, png=png)


def _marked(text: str, span: str, redact: bool | Callable[[str], str]) -> tuple[str, str, str]:
    """(before, span, after): the text split around the memorized span, which the template
    marks. Text and span are redacted each whole before the span is looked for, so a mask
    never splits at the span's edge (a span whose redacted form is not found is simply not
    marked: it is all `before`)."""
    mask = masker(redact)  # True: every type; a run's Masking: its personal_data section
    if mask:
        text, span = mask(text), mask(span)
    at = text.find(span) if span.strip() else -1
    if at < 0:
        return text, "", ""
    end = at + len(span)
    return text[:at], text[at:end], text[end:]


def _candidates_html(candidates: pa.Table, redact: bool | Callable[[str], str]) -> str:
    verified = "memorized" in candidates.column_names
    ordered = filter_candidates(candidates)
    if verified:  # memorized first, each group in rank order
        mem = ordered.column("memorized").to_pylist()
        ordered = ordered.take(sorted(range(ordered.num_rows), key=lambda i: not mem[i]))
    cols = ["sample_id", "strategy", "metric", "rank", "score"] + \
        (["match_tokens", "memorized", "category"] if verified else []) + ["duplicates"]
    cols = [c for c in cols if c in ordered.column_names]
    rows = []
    for r in ordered.to_pylist():
        numeric = [isinstance(r[c], (int, float)) and not isinstance(r[c], bool) for c in cols]
        rows.append({"sample_id": r["sample_id"], "memorized": verified and r["memorized"],
                     "cells": [(_num(r[c]) if n else str(r[c]), n) for c, n in zip(cols, numeric)],
                     "text": _marked(r.get("text") or "", r.get("match_text") or "" if r.get("memorized") else "",
                                     redact)})
    return render("candidates.html.j2", columns=cols, rows=rows, redact=redact)


def memorization_html(memorization: Memorization | None) -> str:
    """The report's opening: how much was memorized, and which metric finds it best."""
    if memorization is None:
        return render("memorization.html.j2", memorization=None)
    k, strategies, cells = metric_cells(memorization)
    return render("memorization.html.j2", memorization=memorization, points=headline_points(memorization),
                  columns=HEADLINE_COLUMNS, rows=headline_rows(memorization), strategies=strategies, grid=cells,
                  k=k, curves=[(s, curves_png(memorization, s)) for s in strategies_of(memorization)])


def _scatter_html(scatter: pa.Table | None, memorized_ids: set, ids: set) -> str:
    plotted = scatter_png(scatter, memorized_ids, ids) if scatter is not None else None
    png, metrics = plotted or (None, [])
    return render("scatter.html.j2", png=png, metrics=metrics, rows=scatter.num_rows if scatter is not None else 0)


def render_report(settings: dict, stats: dict, candidates: pa.Table, scatter: pa.Table | None,
                  redact: bool | Callable[[str], str] = True, metric_names=None, strategies=None,
                  memorization: Memorization | None = None,
                  models: list[dict] | None = None, sections: list[Section] | None = None) -> str:
    """The whole report as one HTML document: the summaries first (memorization, Table 2,
    scores, categories, then `sections` that are not long), the long lists after (the
    candidates, then long `sections`), the settings last. Table 2 rows and columns follow
    `metric_names`/`strategies`, else the config in `settings`, else the data. `models`:
    role, name, model, parameters, split of each model, when known."""
    from_settings = _names_from_settings(settings)
    metric_names = metric_names if metric_names is not None else from_settings[0]
    strategies = strategies if strategies is not None else from_settings[1]
    t2 = table2(candidates, metric_names, strategies)
    ids = candidates.column("sample_id").to_pylist()
    mem = candidates.column("memorized").to_pylist() if t2["verified"] else [False] * len(ids)
    memorized_ids = {s for s, m in zip(ids, mem) if m}
    intro = (f"Generated {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M UTC}. "
             f"{len(set(ids))} distinct candidate samples in {candidates.num_rows} rows; "
             f"{'–' if t2['total'] is None else t2['total']} memorized.")
    built = [Section("How much did the model memorize?" if memorization is not None else "",
                     memorization_html(memorization)),
             Section("Memorized candidates per metric and strategy (Table 2)", table2_html(t2)),
             Section("Score vs perplexity", _scatter_html(scatter, memorized_ids, set(ids))),
             Section("Categories", _categories_html(*_categories(candidates))),
             Section("Candidates", _candidates_html(candidates, redact), long=True)]
    return _page(settings, stats, intro, built + list(sections or []), models)


def render_extraction_report(settings: dict, stats: dict, sections: list[Section],
                             models: list[dict] | None = None) -> str:
    """The report of a run without sampling (`strategies: []`, docs/outputs.md): its sections
    (the extraction section), then settings, models and throughput."""
    intro = (f"Generated {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M UTC}. An extraction-only "
             "run: no samples were generated, so there are no candidates.")
    return _page(settings, stats, intro, sections, models)


def _page(settings: dict, stats: dict, intro: str, sections: list[Section], models: list[dict] | None) -> str:
    return render("base.html.j2", title=f"memx report: {settings.get('run_id', 'run')}", intro=intro,
                  sections=sections, settings=_settings_html(settings, models), throughput=_stats_html(stats))
