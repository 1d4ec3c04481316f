"""The `personal_data` part of memorization.json, counted from per-sample entity lists.

Per strategy (`StrategyPersonalData`, docs/personal-data.md): `memorized_with` (memorized
samples whose span holds at least one entity), `share` (of memorized samples; null when
none is memorized), `by_type.{type}`: `samples` (memorized samples with an entity of that
type) and `distinct` (distinct entity values, read from `text` at the entity's offsets,
over those samples). Every requested type is present, 0 when absent.

`PersonalDataCounts` is fed batch by batch (memorization.json reads one shard at a time)
and keeps only counts and the distinct values; `personal_data_summary` (one strategy) and
`personal_data_by_strategy` (rows grouped by strategy) count a whole list at once.

Pure counting: it knows nothing about detection, spans or storage; rows that are not
memorized are ignored whatever their lists hold.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from pydantic import BaseModel

from memx.pii.registry import TYPES


class TypeCount(BaseModel):
    samples: int
    distinct: int


class StrategyPersonalData(BaseModel):
    memorized_with: int
    share: float | None
    by_type: dict[str, TypeCount]


class _Strategy:
    def __init__(self, types: tuple[str, ...]):
        self.memorized = self.with_any = 0
        self.samples = {t: 0 for t in types}
        self.values: dict[str, set[str]] = {t: set() for t in types}

    def model(self) -> StrategyPersonalData:
        return StrategyPersonalData(
            memorized_with=self.with_any,
            share=self.with_any / self.memorized if self.memorized else None,
            by_type={t: TypeCount(samples=n, distinct=len(self.values[t])) for t, n in self.samples.items()})


class PersonalDataCounts:
    """Accumulates memorized samples' entity lists per strategy; `result()` is
    memorization.json's `personal_data` ({strategy: StrategyPersonalData}, first-seen order)."""

    def __init__(self, types: Iterable[str] | None = None):
        self.types = tuple(TYPES if types is None else types)
        self._by_strategy: dict[str, _Strategy] = {}

    def add(self, strategies: Sequence[str] | str, memorized: Sequence[bool], texts: Sequence[str],
            personal_data: Sequence[list[dict] | None]) -> None:
        """Rows of one batch; `strategies` one per row, or one name for every row."""
        for i, (hit, text, entities) in enumerate(zip(memorized, texts, personal_data)):
            strategy = strategies if isinstance(strategies, str) else strategies[i]
            acc = self._by_strategy.get(strategy) or self._by_strategy.setdefault(strategy, _Strategy(self.types))
            if not hit:
                continue
            acc.memorized += 1
            entities = [e for e in (entities or []) if e["type"] in acc.samples]
            acc.with_any += bool(entities)
            for t in {e["type"] for e in entities}:
                acc.samples[t] += 1
            for e in entities:
                acc.values[e["type"]].add((text or "")[e["start"]:e["end"]])

    def models(self) -> dict[str, StrategyPersonalData]:
        return {s: acc.model() for s, acc in self._by_strategy.items()}

    def result(self) -> dict[str, dict]:
        return {s: m.model_dump() for s, m in self.models().items()}


def personal_data_summary(memorized: Sequence[bool], texts: Sequence[str], personal_data: Sequence[list[dict] | None],
                          types: Iterable[str] = TYPES) -> dict:
    """One strategy's counts (every row belongs to it)."""
    counts = PersonalDataCounts(types)
    counts.add("", memorized, texts, personal_data)
    return counts.result().get("", _Strategy(counts.types).model().model_dump())


def personal_data_by_strategy(strategies: Sequence[str], memorized: Sequence[bool], texts: Sequence[str],
                              personal_data: Sequence[list[dict] | None], types: Iterable[str] = TYPES) -> dict:
    """{strategy: personal_data_summary of its rows}, strategies in first-seen order."""
    counts = PersonalDataCounts(types)
    counts.add(list(strategies), memorized, texts, personal_data)
    return counts.result()
