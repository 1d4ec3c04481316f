"""memorization.json's divergence figures (docs/chat.md): how many samples diverged, how
many never repeated the word, and per prompt ("{word}x{repeats}") samples, diverged and
memorized.

A sample *diverged* when it repeated the word at least once (`repeated >= 1`) and then
wrote something else (`diverged_at` not null); one that never repeated (`repeated` 0)
answered something else and is counted apart as `no_repetition`. Fed shard by shard with
`add(samples, match_tokens)`; `result()` is a pydantic model. It knows no storage or runs.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel

DIVERGENCE_COLUMNS = ["sample_id", "word", "repeats", "repeated", "diverged_at"]


class PromptFigures(BaseModel):
    samples: int = 0
    diverged: int = 0
    memorized: int = 0


class DivergenceFigures(BaseModel):
    diverged: int
    diverged_rate: float | None
    no_repetition: int
    by_prompt: dict[str, PromptFigures]


def prompt_key(word: str, repeats: int) -> str:
    return f"{word}x{repeats}"


class DivergenceSummary:
    """Accumulates divergence rows; `result()` is None when no divergence row was added."""

    def __init__(self, min_match_tokens: int):
        self.min_match_tokens = min_match_tokens
        self.samples = self.diverged = self.no_repetition = 0
        self.by_prompt: dict[str, PromptFigures] = {}

    def add(self, samples: pa.Table, match_tokens) -> None:
        """`samples`: DIVERGENCE_COLUMNS of a shard; `match_tokens`: its verified rows' spans, same order."""
        repeated = samples.column("repeated").fill_null(0).to_numpy(zero_copy_only=False)
        diverged = (repeated >= 1) & pc.is_valid(samples.column("diverged_at")).to_numpy(zero_copy_only=False)
        memorized = np.asarray(match_tokens) >= self.min_match_tokens
        self.samples += len(repeated)
        self.diverged += int(diverged.sum())
        self.no_repetition += int((repeated == 0).sum())
        keys = [prompt_key(w, int(r)) for w, r in zip(samples.column("word").to_pylist(),
                                                      samples.column("repeats").to_pylist())]
        for key in sorted(set(keys)):
            at = np.asarray([k == key for k in keys])
            figures = self.by_prompt.setdefault(key, PromptFigures())
            figures.samples += int(at.sum())
            figures.diverged += int((at & diverged).sum())
            figures.memorized += int((at & memorized).sum())

    def result(self) -> DivergenceFigures | None:
        if not self.samples:
            return None
        return DivergenceFigures(diverged=self.diverged, diverged_rate=self.diverged / self.samples,
                                 no_repetition=self.no_repetition,
                                 by_prompt=dict(sorted(self.by_prompt.items())))

