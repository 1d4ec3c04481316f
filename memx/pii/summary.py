"""The `personal_data` part of memorization.json, counted from per-sample entity lists.

`personal_data_summary(memorized, texts, personal_data)` for one strategy's samples:
`memorized_with` (memorized samples whose span holds at least one entity), `share` (of
memorized samples; null when none is memorized), `by_type.{type}`: `samples` (memorized
samples with an entity of that type) and `distinct` (distinct entity values, read from
`text` at the entity's offsets, over those samples). Every requested type is present, 0
when absent. `personal_data_by_strategy` groups rows by strategy first.

Pure counting: it knows nothing about detection, spans or storage; rows that are not
memorized are ignored whatever their lists hold.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from memx.pii.registry import TYPES


def personal_data_summary(memorized: Sequence[bool], texts: Sequence[str], personal_data: Sequence[list[dict] | None],
                          types: Iterable[str] = TYPES) -> dict:
    types = tuple(types)
    samples = {t: 0 for t in types}
    values: dict[str, set[str]] = {t: set() for t in types}
    n_memorized = with_any = 0
    for hit, text, entities in zip(memorized, texts, personal_data):
        if not hit:
            continue
        n_memorized += 1
        entities = [e for e in (entities or []) if e["type"] in samples]
        if entities:
            with_any += 1
        for t in {e["type"] for e in entities}:
            samples[t] += 1
        for e in entities:
            values[e["type"]].add((text or "")[e["start"]:e["end"]])
    return {
        "memorized_with": with_any,
        "share": with_any / n_memorized if n_memorized else None,
        "by_type": {t: {"samples": samples[t], "distinct": len(values[t])} for t in types},
    }


def personal_data_by_strategy(strategies: Sequence[str], memorized: Sequence[bool], texts: Sequence[str],
                              personal_data: Sequence[list[dict] | None], types: Iterable[str] = TYPES) -> dict:
    """{strategy: personal_data_summary of its rows}, strategies in first-seen order."""
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(strategies):
        groups.setdefault(s, []).append(i)
    types = tuple(types)
    return {s: personal_data_summary([memorized[i] for i in rows], [texts[i] for i in rows],
                                     [personal_data[i] for i in rows], types)
            for s, rows in groups.items()}
