"""AUC and TPR at low FPR against scikit-learn, and the bootstrap intervals' behaviour."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from memx.membership import evaluate as E


def _sides(n_members: int, n_nonmembers: int, shift: float, seed: int, ties: bool = False):
    rng = np.random.default_rng(seed)
    member, nonmember = rng.normal(shift, 1.0, n_members), rng.normal(0.0, 1.0, n_nonmembers)
    return (np.round(member, 1), np.round(nonmember, 1)) if ties else (member, nonmember)


def _sklearn(member, nonmember):
    labels = np.r_[np.ones(len(member)), np.zeros(len(nonmember))]
    scores = np.r_[member, nonmember]
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    return roc_auc_score(labels, scores), {f: tpr[fpr <= f].max() for f in E.FPRS}


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("sizes", [(40, 70), (3000, 2000)])
def test_point_figures_equal_sklearn(sizes, ties):
    member, nonmember = _sides(*sizes, shift=0.8, seed=1, ties=ties)
    auc, tprs = _sklearn(member, nonmember)
    got = E.figures(member, nonmember, bootstrap=20, seed=0)
    assert got.auc == pytest.approx(auc, abs=1e-12)
    assert got.tpr_at_fpr == {"0.01": pytest.approx(tprs[0.01]), "0.001": pytest.approx(tprs[0.001])}
    # the bootstrap's own weighted computation agrees with scikit-learn at unit weights ...
    w_auc, w_tprs = E.weighted_figures(member, nonmember)
    assert w_auc == pytest.approx(auc, abs=1e-12) and w_tprs == pytest.approx([tprs[0.01], tprs[0.001]])
    # ... and at the multiplicities of a resample, against the resample written out
    rng = np.random.default_rng(5)
    mw, nw = rng.integers(0, 3, len(member)), rng.integers(0, 3, len(nonmember))
    r_auc, r_tprs = _sklearn(np.repeat(member, mw), np.repeat(nonmember, nw))
    w_auc, w_tprs = E.weighted_figures(member, nonmember, mw, nw)
    assert w_auc == pytest.approx(r_auc, abs=1e-12) and w_tprs == pytest.approx([r_tprs[0.01], r_tprs[0.001]])


def test_tpr_at_fpr_is_the_largest_tpr_within_the_fpr():
    # 100 non-members: at FPR <= 1% one non-member may pass; the top non-member scores 5.
    nonmember = np.r_[5.0, np.linspace(-1, 1, 99)]
    member = np.r_[[6.0, 5.5], np.full(8, 4.0)]
    assert E.tpr_at_fpr(member, nonmember, 0.01) == pytest.approx(1.0)  # threshold 4.0 passes only the 5.0
    assert E.tpr_at_fpr(member, nonmember, 0.001) == pytest.approx(0.2)  # nothing may pass: only 6.0, 5.5


def test_intervals_hold_the_estimate_and_narrow_with_documents():
    small = E.figures(*_sides(100, 100, 0.5, 2), bootstrap=400, seed=0)
    large = E.figures(*_sides(5000, 5000, 0.5, 2), bootstrap=400, seed=0)
    for fig in (small, large):
        assert fig.auc_ci95[0] <= fig.auc <= fig.auc_ci95[1]
        for key, (low, high) in fig.tpr_at_fpr_ci95.items():
            assert low <= high
    width = lambda f: f.auc_ci95[1] - f.auc_ci95[0]
    assert width(large) < width(small) / 4  # 50x the documents: about 1/7 of the width


def test_intervals_repeat_for_a_seed_and_move_with_another():
    member, nonmember = _sides(300, 300, 0.3, 3)
    a = E.figures(member, nonmember, bootstrap=200, seed=7)
    b = E.figures(member, nonmember, bootstrap=200, seed=7)
    c = E.figures(member, nonmember, bootstrap=200, seed=8)
    assert a == b
    assert a.auc_ci95 != c.auc_ci95 and a.auc == c.auc


def _fig(auc: float, low: float) -> E.Figures:
    return E.Figures(auc=auc, auc_ci95=(low, auc + 0.01), tpr_at_fpr={"0.01": 0.0, "0.001": 0.0},
                     tpr_at_fpr_ci95={"0.01": (0.0, 0.0), "0.001": (0.0, 0.0)})


def test_verdict_and_its_sentence():
    best = _fig(0.85, 0.80)
    assert E.verdict(_fig(0.52, 0.5), best) == "ok"
    assert E.verdict(_fig(0.61, 0.6), _fig(0.99, 0.98)) == "distribution shift"  # blind >= 0.6
    assert E.verdict(_fig(0.58, 0.55), _fig(0.60, 0.57)) == "distribution shift"  # reaches the best's low end
    assert E.verdict(None, best) == "unchecked"
    said = E.verdict_sentence(_fig(0.97, 0.96), "ratio_out", best)
    assert said.startswith("these sets can be told apart without the model (blind AUC 0.97")
    assert said.endswith("no score here measures membership")
    assert E.best_metric({"zlib": _fig(0.7, 0.6), "ratio_out": best, "min_k": _fig(0.8, 0.7)}) == "ratio_out"
