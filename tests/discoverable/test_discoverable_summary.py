"""discoverable.json on hand-made prefix rows with known answers: exact rate, (n, p)
extraction probabilities, duplication buckets, and recall at 100 errors with ties."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from memx.discoverable import COUNT_BUCKETS, count_bucket_index, discoverable_summary, recall_at_errors


def _rows(exact: list[bool], scores: dict[str, list[float]], sequence_ids: list[str] | None = None,
          counts: list[int] | None = None, ids: list[str] | None = None):
    n = len(exact)
    ids = ids or [f"prefix-00000-{i:05d}" for i in range(n)]
    score = {"sample_id": ids, "exact": exact, "match_prefix_tokens": pa.array([10 if e else 2 for e in exact], pa.int32()),
             "token_accuracy": [1.0 if e else 0.25 for e in exact],
             **{f"score_{m}": v for m, v in scores.items()}}
    if counts is not None:
        score["sequence_count"] = pa.array(counts, pa.int64())
    samples = pa.table({"sample_id": ids, "sequence_id": sequence_ids or [f"{i}:0" for i in range(n)]})
    # the summary must not depend on row order: hand it the scores reversed
    return samples, pa.table(score).take(pa.array(np.arange(n)[::-1]))


def _ranking_case():
    """In ranking order of `perplexity` (ties by sample_id): 5 exact at 10.0, 99 wrong at 5.0,
    a tie at 1.0 of exact, exact, WRONG (the 100th), exact, then 3 exact and 10 wrong at 0.0."""
    exact, score = [], []
    def add(flag, value, n=1):
        exact.extend([flag] * n)
        score.extend([value] * n)
    add(True, 10.0, 5)
    add(False, 5.0, 99)
    add(True, 1.0), add(True, 1.0), add(False, 1.0), add(True, 1.0)
    add(True, 0.0, 3)
    add(False, 0.0, 10)
    return exact, score


def test_recall_at_100_errors_with_ties():
    exact, score = _ranking_case()
    ids = np.array([f"prefix-00000-{i:05d}" for i in range(len(exact))])
    assert recall_at_errors(np.array(score), np.array(exact), ids) == 5 + 2
    # the same tie with the wrong row's sample_id first: it is the 100th error before both exact rows
    swapped = ids.copy()
    swapped[[104, 106]] = ids[[106, 104]]
    assert recall_at_errors(np.array(score), np.array(exact), swapped) == 5
    # without the 100th wrong row there are 99: every exact row counts
    keep = np.arange(len(exact)) != 106
    assert recall_at_errors(np.array(score)[keep], np.array(exact)[keep], ids[keep]) == sum(exact) == 11


def test_summary_of_greedy_rows():
    exact, score = _ranking_case()
    # zlib ranks the other way round: 3 exact and 10 wrong at -0.0, then the tie at -1.0
    # (exact, exact, wrong, exact), then 89 of the 99 wrong reach 100 errors: 6 exact before
    samples, scores = _rows(exact, {"perplexity": score, "zlib": [-s for s in score]})
    summary = discoverable_summary(samples, scores, ["perplexity", "zlib"]).to_dict()
    block = summary["strategies"]["prefix"]
    assert block == {"rows": 121, "sequences": 121, "draws": 1, "exact": 11, "exact_rate": 11 / 121,
                     "token_accuracy": pytest.approx((11 + 0.25 * 110) / 121),
                     "match_prefix_tokens": pytest.approx((110 + 2 * 110) / 121)}
    assert summary["metrics"]["perplexity"]["prefix"]["recall_at_errors"] == {"100": {"exact": 7, "share": 7 / 11}}
    assert summary["metrics"]["zlib"]["prefix"]["recall_at_errors"] == {"100": {"exact": 6, "share": 6 / 11}}
    assert "extraction_probability" not in block and "duplication" not in summary


def test_n_p_extraction_with_known_probabilities():
    """Five sequences of 10 draws each, exact in 10, 5, 1, 0 and 9 of them."""
    hits = {"a": 10, "b": 5, "c": 1, "d": 0, "e": 9}
    sequence_ids, exact = [], []
    for seq, k in hits.items():
        sequence_ids += [f"{seq}:7"] * 10
        exact += [True] * k + [False] * (10 - k)
    samples, scores = _rows(exact, {"perplexity": list(np.linspace(0, 1, 50))}, sequence_ids)
    block = discoverable_summary(samples, scores, ["perplexity"], draws=10).to_dict()["strategies"]["prefix"]
    assert (block["rows"], block["sequences"], block["draws"], block["exact"]) == (50, 5, 10, 25)
    assert block["exact_rate"] == 0.5
    # p >= 0.1: a, b, c, e; p >= 0.5: a, b, e; p >= 0.9: a, e (1/10 and 9/10 exactly on the line)
    assert block["extraction_probability"] == {"0.1": 0.8, "0.5": 0.6, "0.9": 0.4}


def test_duplication_buckets():
    assert [COUNT_BUCKETS[i] for i in count_bucket_index(np.array([1, 2, 3, 4, 7, 8, 16, 32, 63, 64, 5000]))] == \
        ["1", "2-3", "2-3", "4-7", "4-7", "8-15", "16-31", "32-63", "32-63", ">=64", ">=64"]
    counts = [1, 1, 2, 3, 5, 64, 100, 0]
    exact = [True, False, True, True, False, True, True, False]
    samples, scores = _rows(exact, {"perplexity": [0.0] * 8}, counts=counts)
    dup = discoverable_summary(samples, scores, ["perplexity"]).to_dict()["duplication"]
    assert list(dup) == ["0", *COUNT_BUCKETS]
    assert dup["0"] == {"rows": 1, "exact": 0, "exact_rate": 0.0}
    assert dup["1"] == {"rows": 2, "exact": 1, "exact_rate": 0.5}
    assert dup["2-3"] == {"rows": 2, "exact": 2, "exact_rate": 1.0}
    assert dup["4-7"] == {"rows": 1, "exact": 0, "exact_rate": 0.0}
    assert dup["8-15"] == {"rows": 0, "exact": 0, "exact_rate": None}
    assert dup[">=64"] == {"rows": 2, "exact": 2, "exact_rate": 1.0}


def test_no_exact_row_has_a_null_share():
    samples, scores = _rows([False] * 3, {"perplexity": [1.0, 2.0, 3.0]})
    summary = discoverable_summary(samples, scores, ["perplexity"]).to_dict()
    assert summary["metrics"]["perplexity"]["prefix"]["recall_at_errors"]["100"] == {"exact": 0, "share": None}
    assert summary["strategies"]["prefix"]["exact_rate"] == 0.0
