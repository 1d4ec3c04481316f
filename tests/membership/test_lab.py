"""Membership on the lab's labelled pair, with its trained models (slow: builds or reuses the
tiny lab in the cache).

The fair pair (members: training paragraphs of the xl; non-members: paragraphs of training
documents the lab set aside) must look alike to the blind baseline; members against text
of another kind (docstrings of C modules) must get the "distribution shift" verdict.
"""

from __future__ import annotations

import json
import zlib

import pytest
import torch

from memx.config import ScoringConfig
from memx.documents import DocumentSource
from memx.lab import build_lab
from memx.membership.documents import kept_tokens, read_kept, select_documents
from memx.membership.score import score_documents, shard_rows
from memx.membership.summary import summarize
from memx.models import load_causal_lm
from tests.membership.test_score import _plain

pytestmark = pytest.mark.slow

METRICS = ["perplexity", "ratio_small", "ratio_medium", "ratio_out", "zlib", "lowercase", "window", "min_k",
           "min_k_plus_plus"]


@pytest.fixture(scope="module")
def lab():
    path = build_lab(None, preset="tiny", seed=0, progress=False)
    meta = json.loads((path / "lab.json").read_text())
    models = {name: load_causal_lm(str(path / "models" / name), "float32", "cpu") for name in ("xl", "small",
                                                                                               "medium", "out")}
    context = meta["settings"]["train"]["context"]
    return path, meta, models, context


def _score(lab, side: str, member: bool):
    path, meta, models, context = lab
    source = DocumentSource.scan(str(path / meta["membership"][side]))
    target = models["xl"]
    kept = read_kept(source, target.tokenizer, select_documents(source, target.tokenizer, "all", 0, side), context,
                     side)
    refs = {name: models[name] for name in ("small", "medium", "out")}
    scores = score_documents(kept.ids, kept.text, target, refs, ScoringConfig(window=16, batch_size=64), METRICS)
    return shard_rows(kept.document, kept.document_name, member, scores), kept


def test_fair_pair_looks_alike_without_the_model(lab):
    members, kept_m = _score(lab, "members", True)
    nonmembers, kept_n = _score(lab, "nonmembers", False)
    summary = summarize(members, nonmembers, kept_m.text, kept_n.text, METRICS, bootstrap=500, seed=0)
    print("\nfair pair:", summary.members, "members,", summary.nonmembers, "non-members;", summary.sentence())
    for name, fig in summary.metrics.items():
        print(f"  {name:16s} AUC {fig.auc:.3f} [{fig.auc_ci95[0]:.3f}, {fig.auc_ci95[1]:.3f}]  "
              f"TPR@1% {fig.tpr_at_fpr['0.01']:.3f}")
    print(f"  {'blind':16s} AUC {summary.blind.auc:.3f} [{summary.blind.auc_ci95[0]:.3f}, "
          f"{summary.blind.auc_ci95[1]:.3f}]")
    assert summary.blind.auc < 0.6
    assert members.column("document_name").to_pylist()[0].endswith("members.jsonl:1")


def test_shifted_pair_gets_the_verdict(lab):
    from tests.membership.conftest import docstrings

    path, meta, models, context = lab
    members, kept_m = _score(lab, "members", True)
    ids, texts = kept_tokens(models["xl"].tokenizer, docstrings(), context)
    refs = {name: models[name] for name in ("small", "medium", "out")}
    nonmembers = score_documents(ids, texts, models["xl"], refs, ScoringConfig(window=16, batch_size=64), METRICS)
    summary = summarize(members, nonmembers, kept_m.text, texts, METRICS, bootstrap=500, seed=0)
    print("\nshifted pair:", summary.sentence())
    assert summary.verdict == "distribution shift" and summary.blind.auc > 0.9


def test_lab_scores_equal_a_plain_forward(lab):
    path, meta, models, context = lab
    source = DocumentSource.scan(str(path / meta["membership"]["members"]))
    target, out = models["xl"], models["out"]
    max_tokens = 24  # under every paragraph's length: the scores cover its first tokens only
    kept = read_kept(source, target.tokenizer, [0, 5, 17], max_tokens, "members")
    whole = target.tokenizer(source.read([0, 5, 17]), add_special_tokens=False)["input_ids"]
    table = score_documents(kept.ids, kept.text, target, {"out": out}, ScoringConfig(),
                            ["perplexity", "ratio_out", "zlib", "min_k", "min_k_plus_plus"]).to_pylist()
    for ids, full, text, row in zip(kept.ids, whole, kept.text, table):
        assert ids == full[:max_tokens] and len(full) > max_tokens
        want, other = _plain(target.model, ids), _plain(out.model, ids)
        assert row["score_perplexity"] == pytest.approx(-want["nll"], abs=1e-4)
        assert row["score_ratio_out"] == pytest.approx(other["nll"] / want["nll"], rel=1e-4)
        assert row["score_zlib"] == pytest.approx(len(zlib.compress(text.encode())) / want["nll"], rel=1e-4)
        assert row["score_min_k"] == pytest.approx(want["min_k"], abs=1e-4)
        assert row["score_min_k_plus_plus"] == pytest.approx(want["min_k_plus_plus"], abs=1e-4)
    assert torch.get_default_dtype() == torch.float32
