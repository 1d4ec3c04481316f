"""The lab's exact-extraction view (docs/formulas.md#extraction over the ground (docs/commands.md#lab) truth): which training
documents the lab's run config measures, and the planted canaries' extraction probability
by number of repetitions (the audit's canary table, in probabilities).

- `extraction_documents`: for every canary, rarest first, the shortest training document
  holding a copy (unless one already chosen holds it), then as many of the shortest
  documents holding no canary: the planted secrets beside ordinary text, at a CPU demo's cost;
- `canary_probabilities`: for every copy of a canary inside a measured document, the largest
  p_z of a window whose suffix holds the whole secret (and whether one such window is
  greedy-exact); per canary the best copy; per repetition count and prefix length the
  median of those p_z, the share with p_z >= 0.5 and the greedy-exact share, over the
  canaries some window holds whole (`measured`).

It reads nothing: texts, canaries and window rows are given. It knows the lab's canary
fields (text, prefix, secret, repetitions) and the extraction row columns.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa


def extraction_documents(texts: list[str], canaries: list[dict]) -> list[int]:
    """Document indexes (sorted) covering every canary once, plus as many canary-free ones."""
    holders = {c["canary_id"]: [i for i, t in enumerate(texts) if c["text"] in t] for c in canaries}
    chosen: set[int] = set()
    for canary in sorted(canaries, key=lambda c: (c["repetitions"], c["canary_id"])):
        found = holders[canary["canary_id"]]
        if found and not chosen.intersection(found):
            chosen.add(min(found, key=lambda i: (len(texts[i]), i)))
    plain = sorted((i for i, t in enumerate(texts) if not any(c["text"] in t for c in canaries)),
                   key=lambda i: (len(texts[i]), i))
    return sorted(chosen | set(plain[: len(chosen)]))


def _secret_spans(text: str, canary: dict) -> list[tuple[int, int]]:
    """[start, end) of the secret of every copy of `canary` in `text`."""
    inside = canary["text"].rindex(canary["secret"])
    spans, at = [], text.find(canary["text"])
    while at >= 0:
        spans.append((at + inside, at + inside + len(canary["secret"])))
        at = text.find(canary["text"], at + 1)
    return spans


def canary_probabilities(canaries: list[dict], texts: dict[int, str], rows: pa.Table) -> list[dict]:
    """One entry per (canary, prefix length) with a copy in a measured document: its best copy's
    largest log p_z over windows holding the whole secret (None: no window holds it whole)."""
    doc, k_of = rows.column("document").to_numpy(), rows.column("prefix_tokens").to_numpy()
    starts, ends = rows.column("char_start").to_numpy(), rows.column("char_end").to_numpy()
    log_p, exact = rows.column("log_p").to_numpy(), rows.column("greedy_exact").to_numpy(zero_copy_only=False)
    out = []
    for canary in canaries:
        copies = [(d, span) for d, text in texts.items() for span in _secret_spans(text, canary)]
        if not copies:
            continue
        for k in sorted(set(k_of.tolist())):
            best, greedy = -math.inf, False
            held = False
            for d, (a, b) in copies:
                mine = (doc == d) & (k_of == k) & (starts <= a) & (ends >= b)
                if mine.any():
                    held = True
                    best = max(best, float(log_p[mine].max()))
                    greedy = greedy or bool(exact[mine].any())
            out.append({"canary_id": canary["canary_id"], "repetitions": canary["repetitions"],
                        "category": canary["category"], "prefix_tokens": int(k), "copies": len(copies),
                        "log_p": best if held else None, "greedy_exact": greedy})
    return out


def by_repetitions(entries: list[dict]) -> dict:
    """{repetitions: {prefix length: {canaries, measured, median_p, p_at_least_0.5, greedy_exact}}}:
    `measured` canaries have a window holding the whole secret (a secret longer than the
    suffix allows at the stride has none); the other figures are over those."""
    table: dict[int, dict[int, dict]] = {}
    for reps in sorted({e["repetitions"] for e in entries}):
        for k in sorted({e["prefix_tokens"] for e in entries}):
            mine = [e for e in entries if e["repetitions"] == reps and e["prefix_tokens"] == k]
            held = [e for e in mine if e["log_p"] is not None]
            p = np.array([math.exp(e["log_p"]) for e in held])
            table.setdefault(reps, {})[k] = {
                "canaries": len(mine), "measured": len(held),
                "median_p": float(np.median(p)) if len(p) else None,
                "p_at_least_0.5": float(np.mean(p >= 0.5)) if len(p) else None,
                "greedy_exact": float(np.mean([e["greedy_exact"] for e in held])) if held else None,
            }
    return table
