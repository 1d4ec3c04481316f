"""The blind baseline tells text of another kind apart, and not a random split of one kind."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
from sklearn.metrics import roc_auc_score

from memx.membership.blind import SAMPLE, blind_sample, blind_scores
from memx.membership.summary import read_summary, summarize


def _auc(member, nonmember):
    return roc_auc_score(np.r_[np.ones(len(member)), np.zeros(len(nonmember))], np.r_[member, nonmember])


def test_another_kind_of_text_is_told_apart(code_paragraphs, shifted_texts):
    members = code_paragraphs[: len(shifted_texts)]
    assert len(shifted_texts) >= 100
    assert _auc(*blind_scores(members, shifted_texts, seed=0)) > 0.95


def test_a_random_split_of_one_kind_is_not(code_paragraphs):
    texts = list(code_paragraphs)
    random.Random(1).shuffle(texts)  # documents of one file land on both sides, as in a fair pair
    half = len(texts) // 2
    assert _auc(*blind_scores(texts[:half], texts[half:], seed=0)) < 0.6


def test_scores_are_out_of_fold_and_seeded(code_paragraphs, shifted_texts):
    a = blind_scores(code_paragraphs[:60], shifted_texts[:50], seed=3)
    b = blind_scores(code_paragraphs[:60], shifted_texts[:50], seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b)) and (len(a[0]), len(a[1])) == (60, 50)
    picked = blind_sample(SAMPLE + 10, 7, seed=0)
    assert len(picked[0]) == SAMPLE and len(np.unique(picked[0])) == SAMPLE and list(picked[1]) == list(range(7))


def _rows(scores: dict[str, np.ndarray], tokens: np.ndarray) -> pa.Table:
    return pa.table({"tokens": pa.array(tokens, pa.int32()), **{f"score_{k}": v for k, v in scores.items()}})


def test_summary_of_a_shifted_pair(code_paragraphs, shifted_texts):
    rng = np.random.default_rng(0)
    n1, n0 = 120, len(shifted_texts)
    # a score that separates the sets well, and one that does not: the blind baseline still wins
    members = _rows({"loss": rng.normal(1, 1, n1), "zlib": rng.normal(0, 1, n1)}, np.r_[np.full(n1 - 1, 50), 1])
    nonmembers = _rows({"loss": rng.normal(0, 1, n0), "zlib": rng.normal(0, 1, n0)}, np.full(n0, 50))
    summary = summarize(members, nonmembers, code_paragraphs[:n1], shifted_texts, ["loss", "zlib"],
                        bootstrap=200, seed=0)
    assert (summary.members, summary.nonmembers) == (n1 - 1, n0)  # the 1-token document is left out
    assert summary.best == "loss" and summary.metrics["loss"].auc > 0.7
    assert summary.blind.auc > 0.95 and summary.verdict == "distribution shift"
    assert "told apart without the model" in summary.sentence()
    assert read_summary(summary.model_dump_json()) == summary
    off = summarize(members, nonmembers, code_paragraphs[:n1], shifted_texts, ["loss"], 50, 0, blind=False)
    assert off.blind is None and off.verdict == "unchecked"
