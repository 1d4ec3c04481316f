"""memx.verify.summary: memorization.json figures against hand-computed examples.

Strategy `a` (5 samples) has tied scores and fewer samples than every k; `b` (12 samples,
all scores tied, fed in reverse id order over two batches) shows ties broken by
sample_id across batches; `c` has no memorized sample (one class: auc and tpr null,
Good-Turing null); `d` is a case where sklearn's thinned ROC curve would lose the best
point at FPR 0.01. Duplication buckets are checked on chosen corpus counts.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from memx.verify.summary import MemorizationSummary

MIN = 50


def memorization_summary(batches, metrics, min_match_tokens: int) -> dict:
    """memorization.json from batches that each carry a `strategy` column, as memx's
    memorization stage feeds them shard by shard."""
    summary = MemorizationSummary(metrics, min_match_tokens)
    for rows in batches:
        summary.add(rows)
    return summary.result().to_dict()  # the JSON object memorization.json holds


def _rows(strategy, ids, match, scores, spans=None, n_generated=100, counts=None, **more):
    n = len(ids)
    cols = {"strategy": [strategy] * n, "sample_id": ids,
            "match_tokens": pa.array(match, pa.int32()),
            "corpus_count": pa.array(counts or [0] * n, pa.int64()),
            "n_generated": pa.array([n_generated] * n, pa.int32()),
            "span_ids": pa.array(spans or [[] for _ in ids], pa.list_(pa.int32()))}
    cols.update({f"score_{m}": pa.array(v, pa.float64()) for m, v in scores.items()})
    cols.update(more)
    return pa.table(cols)


A = _rows("a", [f"a-{i}" for i in range(5)], [60, 10, 50, 0, 55],
          {"zlib": [0.9, 0.9, 0.5, 0.9, 0.1], "perplexity": [5, 4, 1, 3, 2]},
          spans=[[1, 2, 3], [9], [1, 2, 3], [], [7, 8]])


def test_strategy_figures_and_good_turing():
    out = memorization_summary([A], ["zlib", "perplexity"], MIN)
    a = out["strategies"]["a"]
    assert a["samples"] == 5 and a["memorized"] == 3 and a["rate"] == pytest.approx(0.6)
    assert a["memorized_token_share"] == pytest.approx((60 + 50 + 55) / 500)
    # spans [1,2,3] (in a-0 and a-2) and [7,8] (a-4 only): 2 distinct, 1 seen once, 3 memorized
    assert a["unique_memorized"] == 2 and a["good_turing_unseen"] == pytest.approx(1 / 3)
    json.dumps(out)  # plain JSON types only


def test_ties_fewer_samples_than_k_auc_and_tpr():
    zlib = memorization_summary([A], ["zlib", "perplexity"], MIN)["metrics"]["zlib"]["a"]
    # ranking a-0 (0.9, T), a-1 (0.9), a-3 (0.9), a-2 (0.5, T), a-4 (0.1, T): k > 5 takes all 5
    assert zlib["precision_at"] == {"10": pytest.approx(0.6), "100": pytest.approx(0.6),
                                    "1000": pytest.approx(0.6)}
    # positive-negative pairs: 0.9 ties both negatives (2 x 1/2), 0.5 and 0.1 lose: 1/6
    assert zlib["auc"] == pytest.approx(1 / 6)
    assert zlib["tpr_at_fpr"] == {"0.01": 0.0, "0.001": 0.0}
    ppl = memorization_summary([A], ["perplexity"], MIN)["metrics"]["perplexity"]["a"]
    # order 5 T, 4 F, 3 F, 2 T, 1 T: pairs won 2 of 6; one positive above every negative
    assert ppl["auc"] == pytest.approx(1 / 3)
    assert ppl["tpr_at_fpr"] == {"0.01": pytest.approx(1 / 3), "0.001": pytest.approx(1 / 3)}


def test_ties_broken_by_sample_id_across_batches():
    ids = [f"b-{i:02d}" for i in range(12)]
    match = [0] * 10 + [80, 80]  # only the two largest ids are memorized
    rows = _rows("b", ids, match, {"zlib": [1.0] * 12}, spans=[[]] * 10 + [[5], [6]])
    summary = MemorizationSummary(["zlib"], MIN)
    backwards = rows.take(list(range(11, -1, -1)))
    summary.add(backwards.slice(0, 7))  # b-11 .. b-05 first
    summary.add(backwards.slice(7), "b")
    out = summary.result().to_dict()["metrics"]["zlib"]["b"]
    assert out["precision_at"] == {"10": 0.0, "100": pytest.approx(2 / 12), "1000": pytest.approx(2 / 12)}
    assert out["auc"] == pytest.approx(0.5)


def test_single_class_strategy_is_null_not_an_error():
    rows = _rows("c", ["c-0", "c-1", "c-2"], [3, 0, 49], {"zlib": [1.0, 2.0, 3.0]})
    out = memorization_summary([rows], ["zlib"], MIN)
    c = out["strategies"]["c"]
    assert (c["memorized"], c["rate"], c["unique_memorized"], c["good_turing_unseen"]) == (0, 0.0, 0, None)
    assert c["memorized_token_share"] == 0.0
    z = out["metrics"]["zlib"]["c"]
    assert z["auc"] is None and z["tpr_at_fpr"] == {"0.01": None, "0.001": None}
    assert z["precision_at"] == {"10": 0.0, "100": 0.0, "1000": 0.0}


def test_tpr_at_fpr_keeps_every_roc_point():
    # 3 positives, 200 negatives, tied in pairs: points (0.005, 1/3), (0.01, 2/3), (0.015, 1)
    # lie on one line, so sklearn's thinned curve drops (0.01, 2/3) and would give 1/3
    scores = [10.0, 10.0, 9.0, 9.0, 8.0, 8.0] + [1.0] * 197
    match = [60, 0, 60, 0, 60, 0] + [0] * 197
    ids = [f"d-{i:03d}" for i in range(203)]
    spans = [[1], [], [2], [], [3], []] + [[]] * 197
    out = memorization_summary([_rows("d", ids, match, {"zlib": scores}, spans=spans)],
                               ["zlib"], MIN)["metrics"]["zlib"]["d"]
    assert out["tpr_at_fpr"] == {"0.01": pytest.approx(2 / 3), "0.001": 0.0}
    assert out["precision_at"]["10"] == pytest.approx(0.3)  # d-000 T, d-001, d-002 T, d-003, d-004 T, 5 F


def test_duplication_buckets():
    counts = [0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 1000]
    match = [0, 60, 60, 0, 0, 0, 60, 60, 0, 0, 0, 0, 60, 0]
    ids = [f"e-{i:02d}" for i in range(len(counts))]
    rows = _rows("e", ids, match, {"zlib": [0.0] * len(ids)}, counts=counts,
                 spans=[[i] if m else [] for i, m in enumerate(match)])
    dup = memorization_summary([rows], ["zlib"], MIN)["duplication"]
    assert list(dup) == ["1", "2-3", "4-7", "8-15", "16-31", "32-63", ">=64"]
    assert {k: (v["samples"], v["memorized"]) for k, v in dup.items()} == {
        "1": (1, 1), "2-3": (2, 1), "4-7": (2, 0), "8-15": (2, 2), "16-31": (2, 0),
        "32-63": (2, 0), ">=64": (2, 1)}
    assert dup["2-3"]["rate"] == pytest.approx(0.5) and dup["1"]["rate"] == 1.0
    empty = memorization_summary([_rows("e", ["e-0"], [0], {"zlib": [0.0]})], ["zlib"], MIN)["duplication"]
    assert empty["1"] == {"samples": 0, "memorized": 0, "rate": None}


def test_spans_from_token_ids_and_lengths_equal_span_ids():
    token_ids = [[4, 1, 2, 3, 9], [1, 2, 3], [0] * 6, [7, 8, 7, 8]]
    rows = pa.table({"strategy": ["f"] * 4, "sample_id": ["f-0", "f-1", "f-2", "f-3"],
                     "match_tokens": pa.array([60, 55, 10, 50], pa.int32()),
                     "match_start": pa.array([1, 0, 0, 0], pa.int32()),
                     "match_end": pa.array([4, 3, 1, 2], pa.int32()),
                     "corpus_count": pa.array([1, 1, 1, 2], pa.int64()),
                     "token_ids": pa.array(token_ids, pa.list_(pa.int32())),
                     "score_zlib": [1.0, 2.0, 3.0, 4.0]})
    f = memorization_summary([rows], ["zlib"], MIN)["strategies"]["f"]
    # spans [1,2,3] twice and [7,8] once; generated tokens 5 + 3 + 6 + 4
    assert (f["unique_memorized"], f["good_turing_unseen"]) == (2, pytest.approx(1 / 3))
    assert f["memorized_token_share"] == pytest.approx((60 + 55 + 50) / 18)


def test_nan_scores_refused():
    rows = _rows("g", ["g-0"], [0], {"zlib": [float("nan")]})
    with pytest.raises(ValueError, match="score_zlib"):
        memorization_summary([rows], ["zlib"], MIN)
