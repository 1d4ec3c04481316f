"""Reduce: scores + samples -> candidates (trigram de-dup, MinHash LSH clusters, selection).

Public API: `run_reduce` -> `ReduceResult` (`.candidates`), `RunReader`, `CANDIDATE_SCHEMA`,
`total_unique`, `is_duplicate`, `trigrams`. Knows nothing of Ray or of where the run is
stored (`memx.pipeline.candidates.StorageRunReader` serves a stored run; tests/support/run_reader.py one in memory).
"""

from memx.reduce.minhash import LshParams
from memx.reduce.run import CANDIDATE_SCHEMA, ReduceResult, RunReader, run_reduce
from memx.reduce.select import total_unique
from memx.reduce.trigrams import is_duplicate, trigrams, words

__all__ = [
    "CANDIDATE_SCHEMA",
    "LshParams",
    "ReduceResult",
    "RunReader",
    "is_duplicate",
    "run_reduce",
    "total_unique",
    "trigrams",
    "words",
]
