"""membership.json (docs/membership.md) as a typed model, built from both sides' score rows.

`summarize` takes the two sides' rows (`memx.membership.score.membership_schema`, or any
table holding `tokens` and the `score_<metric>` columns) and the scored texts of the same
rows, and returns a `MembershipSummary`: per metric the figures of
`memx.membership.evaluate`, the blind baseline's from the texts alone
(`memx.membership.blind`), the best metric and the verdict. A document without a
predicted token (`tokens` < 2) carries no score and is left out of every figure;
`members` and `nonmembers` count the documents measured. Pure: it writes nothing; the
caller stores `summary.model_dump_json()` and reads it back with `read_summary`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from pydantic import BaseModel

from memx.membership import evaluate as E
from memx.membership.blind import blind_sample, blind_scores

MEMBERSHIP_KEY = "membership.json"


class BlindFigures(E.Figures):
    """The blind baseline's figures, over the documents it read (a sample of large sets)."""

    members: int
    nonmembers: int


class MembershipSummary(BaseModel):
    members: int
    nonmembers: int
    metrics: dict[str, E.Figures]
    blind: BlindFigures | None  # None when the section sets `blind: false`
    best: str
    verdict: str  # "ok" | "distribution shift" | "unchecked" (no blind baseline)

    def sentence(self) -> str:
        """The verdict in words, printed first by the report and the terminal."""
        return E.verdict_sentence(self.blind, self.best, self.metrics[self.best])


def _measured(table: pa.Table) -> np.ndarray:
    return np.asarray(table.column("tokens").to_numpy(), dtype=np.int64) >= 2


def summarize(members: pa.Table, nonmembers: pa.Table, member_texts: list[str], nonmember_texts: list[str],
              metric_names: list[str], bootstrap: int, seed: int, blind: bool = True) -> MembershipSummary:
    """The membership.json content for two sides' rows and their scored texts (same row order)."""
    if len(member_texts) != members.num_rows or len(nonmember_texts) != nonmembers.num_rows:
        raise ValueError("one scored text per row is needed on each side")
    keep_m, keep_n = _measured(members), _measured(nonmembers)
    if keep_m.sum() < 2 or keep_n.sum() < 2:
        raise ValueError(f"membership: 2 documents with a predicted token are needed a side "
                         f"(members {int(keep_m.sum())}, nonmembers {int(keep_n.sum())})")
    metrics = {
        name: E.figures(members.column(f"score_{name}").to_numpy()[keep_m],
                        nonmembers.column(f"score_{name}").to_numpy()[keep_n], bootstrap, seed)
        for name in metric_names
    }
    best = E.best_metric(metrics)
    baseline = None
    if blind:
        texts_m = [t for t, k in zip(member_texts, keep_m) if k]
        texts_n = [t for t, k in zip(nonmember_texts, keep_n) if k]
        pick_m, pick_n = blind_sample(len(texts_m), len(texts_n), seed)
        scores_m, scores_n = blind_scores([texts_m[i] for i in pick_m], [texts_n[i] for i in pick_n], seed)
        figures = E.figures(scores_m, scores_n, bootstrap, seed)
        baseline = BlindFigures(**figures.model_dump(), members=len(pick_m), nonmembers=len(pick_n))
    return MembershipSummary(members=int(keep_m.sum()), nonmembers=int(keep_n.sum()), metrics=metrics,
                             blind=baseline, best=best, verdict=E.verdict(baseline, metrics[best]))


def read_summary(text: str | bytes) -> MembershipSummary:
    """membership.json as written by `summarize(...).model_dump_json()`."""
    return MembershipSummary.model_validate_json(text)
