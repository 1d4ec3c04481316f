"""The report's personal-data section and `memx inspect --summary`'s lines (docs/personal-data.md).

Per strategy: memorized samples whose span holds personal data, their share of memorized
samples, and per type the samples and distinct values. The counts come from
memorization.json's `personal_data` (every sample verified) or, when only candidates were
verified, from the memorized candidates' `personal_data` column (each sample once). Below
them, the entities of the memorized candidates, masked by type (`mask_value`) unless the
caller passes `redact=False`.

It renders what it is given (`templates/personal_data.html.j2`, autoescaped); it reads no
run and detects nothing: the lists were made by the verify step.
"""

from __future__ import annotations

import textwrap
from typing import Callable, Iterable

import pyarrow as pa
from jinja2 import Environment, PackageLoader

from memx.pii import TYPES, mask_value, personal_data_by_strategy
from memx.report.headline import percent

_ENV = Environment(loader=PackageLoader("memx.report", "templates"), autoescape=True)


def _memorized_rows(candidates: pa.Table) -> list[dict]:
    """The memorized candidates, each sample once (a sample is a candidate of many metrics)."""
    if "personal_data" not in candidates.column_names:
        return []
    seen, rows = set(), []
    for row in candidates.select(["sample_id", "strategy", "text", "memorized", "personal_data"]).to_pylist():
        if row["memorized"] and row["sample_id"] not in seen:
            seen.add(row["sample_id"])
            rows.append(row)
    return rows


def candidate_counts(candidates: pa.Table, types: Iterable[str] = TYPES) -> dict:
    """The per-strategy counts over the memorized candidates (`verify.scope: candidates`)."""
    rows = _memorized_rows(candidates)
    return personal_data_by_strategy([r["strategy"] for r in rows], [True] * len(rows), [r["text"] for r in rows],
                                     [r["personal_data"] for r in rows], types)


def memorized_entities(candidates: pa.Table, types: Iterable[str] = TYPES) -> list[dict]:
    """[{type, value, samples, strategies}] of the memorized candidates' entities, distinct by
    (type, value), in type order, most samples first."""
    order = {t: i for i, t in enumerate(types)}
    found: dict[tuple[str, str], dict] = {}
    for row in _memorized_rows(candidates):
        for e in row["personal_data"] or []:
            if e["type"] not in order:
                continue
            value = row["text"][e["start"]:e["end"]]
            entry = found.setdefault((e["type"], value), {"type": e["type"], "value": value, "ids": set(),
                                                          "strategies": []})
            entry["ids"].add(row["sample_id"])
            if row["strategy"] not in entry["strategies"]:
                entry["strategies"].append(row["strategy"])
    entities = [{**{k: v for k, v in e.items() if k != "ids"}, "samples": len(e["ids"])} for e in found.values()]
    return sorted(entities, key=lambda e: (order[e["type"]], -e["samples"], e["value"]))


def personal_data_html(counts: dict | None, candidates: pa.Table, types: Iterable[str] = TYPES,
                       phone_region: str = "US", redact: bool | Callable[[str], str] = True) -> str:
    """The section: `counts` is memorization.json's `personal_data` (None: counted from the
    memorized candidates). Empty when the candidates were verified before memx listed
    personal data and there are no counts."""
    types = list(types)
    scope = "Every sample was verified (memorization.json)."
    if counts is None:
        if "personal_data" not in candidates.column_names:
            return ""
        counts = candidate_counts(candidates, types)
        scope = "Only the candidates were verified: the counts are of memorized candidate samples."
    rows = [{"strategy": s, "memorized_with": f"{c['memorized_with']:,}", "share": percent(c["share"]),
             "cells": [{"type": t, **c["by_type"].get(t, {"samples": 0, "distinct": 0})} for t in types]}
            for s, c in counts.items()]
    entities = [{**e, "shown": mask_value(e["type"], e["value"]) if redact else e["value"]}
                for e in memorized_entities(candidates, types)]
    note = ("Values are masked by type; `memx report --no-redact` shows them." if redact
            else "Unredacted: the values as generated.")
    return _ENV.get_template("personal_data.html.j2").render(
        scope=scope, types=types, phone_region=phone_region, rows=rows, entities=entities, entities_note=note)


def personal_data_lines(counts: dict, width: int = 80) -> list[str]:
    """memorization.json's `personal_data` as a few lines of at most `width` characters
    (none when the run's memorization.json has no such counts)."""
    if not counts:
        return []
    lines = ["Personal data in memorized spans:"]
    for strategy, c in counts.items():
        found = [f"{t} {n['samples']:,} ({n['distinct']:,} distinct)" for t, n in c["by_type"].items() if n["samples"]]
        head = f"  {strategy}: {c['memorized_with']:,} memorized samples hold some ({percent(c['share'])})"
        lines += textwrap.wrap(head + (": " + ", ".join(found) if found else ""), width,
                               subsequent_indent="    ", break_on_hyphens=False)
    return lines
