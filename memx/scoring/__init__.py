"""Scoring: membership metrics (docs/formulas.md) over batched model passes, shard table -> score rows.

`metrics` is pure per-token math, `passes` the batched forward passes that produce the
per-token arrays, `extraction` the continuation-vs-true-suffix scores of `prefix` rows,
`score` the pyarrow-in / pyarrow-out step the scorer actor calls. This
package never imports Ray and never touches storage.
"""

from memx.scoring.discoverable import SequenceCounter, extraction_scores, sequence_counts
from memx.scoring.metrics import NLL_EPS, NO_EVIDENCE_SCORE, SIGMA_EPS
from memx.scoring.passes import TokenStats, token_stats
from memx.scoring.score import score_columns, score_samples

__all__ = [
    "NLL_EPS",
    "NO_EVIDENCE_SCORE",
    "SIGMA_EPS",
    "SequenceCounter",
    "TokenStats",
    "extraction_scores",
    "score_columns",
    "score_samples",
    "sequence_counts",
    "token_stats",
]
