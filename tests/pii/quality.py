"""Precision and recall of the detector per type over the labelled set (tests/pii/labelled.py).

A positive is found when the detector returns an entity of its type with exactly its
span; every other entity the detector returns is a false positive of its type.
"""

from __future__ import annotations

from memx.pii import TYPES, detect

from .labelled import Labelled


def scores(samples: list[Labelled]) -> tuple[dict, list]:
    """({type: {positives, tp, fp, fn, precision, recall}}, [(sample, wrong finds)])."""
    table = {t: {"positives": 0, "tp": 0, "fp": 0, "fn": 0} for t in TYPES}
    mistakes = []
    for s in samples:
        found = {(e.type, e.start, e.end) for e in detect(s.text, phone_region=s.region)}
        gold = {(s.type, s.start, s.end)} if s.type else set()
        for t, *_ in gold:
            table[t]["positives"] += 1
            table[t]["tp" if (s.type, s.start, s.end) in found else "fn"] += 1
        for t, *_ in found - gold:
            table[t]["fp"] += 1
        if found != gold:
            mistakes.append((s, sorted(found - gold), sorted(gold - found)))
    for row in table.values():
        row["precision"] = row["tp"] / (row["tp"] + row["fp"]) if row["tp"] + row["fp"] else 1.0
        row["recall"] = row["tp"] / row["positives"] if row["positives"] else 1.0
    return table, mistakes


def format_table(table: dict) -> str:
    lines = [f"{'type':<12} {'positives':>9} {'tp':>5} {'fp':>4} {'fn':>4} {'precision':>9} {'recall':>7}"]
    for t, r in table.items():
        lines.append(f"{t:<12} {r['positives']:>9} {r['tp']:>5} {r['fp']:>4} {r['fn']:>4} "
                     f"{r['precision']:>9.3f} {r['recall']:>7.3f}")
    return "\n".join(lines)
