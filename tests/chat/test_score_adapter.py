"""Scoring a fine-tune: the target with its adapter and the base reference on one replica
(one copy of the base weights), and divergence rows scored from `span_from` on, against
a plain Hugging Face / peft forward computed here without memx.scoring."""

from __future__ import annotations

import zlib

import numpy as np
import pyarrow as pa
import pytest
import torch

from memx.chat.replica import load_scoring_models
from memx.config import ReferenceConfig, ScoringConfig, TargetConfig
from memx.models import load_causal_lm
from memx.scoring import NO_EVIDENCE_SCORE, score_samples

METRICS = ["perplexity", "ratio_base", "zlib", "lowercase", "min_k"]


@pytest.fixture(scope="module")
def replica(chat_model_dir, adapter_dir):
    target = TargetConfig(model=str(chat_model_dir), adapter=str(adapter_dir), dtype="float32")
    return load_scoring_models(target, [ReferenceConfig(name="base", model=str(chat_model_dir), dtype="float32")],
                               "cpu")


@pytest.fixture(scope="module")
def samples(tokenizer):
    rng = np.random.default_rng(3)
    bos = tokenizer.bos_token_id
    rows = {"sample_id": [], "prompt_ids": [], "token_ids": [], "text": []}
    for i, prompt_len in enumerate([1, 6, 9, 4]):
        prompt = [bos] + rng.integers(1, len(tokenizer), prompt_len - 1).tolist()
        tokens = rng.integers(1, len(tokenizer), 20).tolist()
        rows["sample_id"].append(f"divergence-00000-{i:06d}")
        rows["prompt_ids"].append(prompt)
        rows["token_ids"].append(tokens)
        rows["text"].append(tokenizer.decode(tokens, skip_special_tokens=True))
    return pa.table(rows)


SPAN_FROM = np.array([0, 5, 13, 20], dtype=np.int32)  # the last row keeps no predicted position


def _plain_nll(model, prompt, tokens, start) -> float:
    ids = torch.tensor([prompt + tokens])
    with torch.inference_mode():
        logp = torch.log_softmax(model(input_ids=ids).logits[0].double(), dim=-1)
    first = len(prompt) + start  # the first generated token that is evidence
    picked = [float(logp[t - 1, ids[0, t]]) for t in range(max(first, 1), ids.shape[1])]
    return -sum(picked) / len(picked)


def test_base_reference_shares_the_targets_weights(replica):
    target, refs = replica
    owned = {p.data_ptr() for p in target.model.parameters()}
    assert {p.data_ptr() for p in refs["base"].model.parameters()} <= owned  # the base is loaded once


def test_divergence_rows_score_from_span_from(replica, samples, chat_model_dir, adapter_dir, tokenizer):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    target, refs = replica
    table = score_samples(samples, target, refs, ScoringConfig(), METRICS,
                          span_from=pa.array(SPAN_FROM)).to_pydict()
    base = AutoModelForCausalLM.from_pretrained(str(chat_model_dir), dtype=torch.float32)
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(chat_model_dir), dtype=torch.float32),
                                      str(adapter_dir))
    rows = samples.to_pylist()
    for i, row in enumerate(rows[:-1]):
        start = int(SPAN_FROM[i])
        nll_t = _plain_nll(tuned, row["prompt_ids"], row["token_ids"], start)
        nll_b = _plain_nll(base, row["prompt_ids"], row["token_ids"], start)
        assert table["nll_target"][i] == pytest.approx(nll_t, abs=1e-4)
        assert table["nll_base"][i] == pytest.approx(nll_b, abs=1e-4)
        assert table["score_ratio_base"][i] == pytest.approx(nll_b / nll_t, rel=1e-4)
        text = tokenizer.decode(row["token_ids"][start:], skip_special_tokens=True) if start else row["text"]
        assert table["zlib_bytes"][i] == len(zlib.compress(text.encode("utf-8")))
    for metric in METRICS:  # nothing left past span_from: no evidence, never NaN
        assert table[f"score_{metric}"][-1] == NO_EVIDENCE_SCORE


def test_span_from_zero_scores_as_before(replica, samples):
    target, refs = replica
    config = ScoringConfig()
    zeros = pa.array(np.zeros(samples.num_rows, dtype=np.int32))
    plain = samples.filter(pa.array([len(p) == 1 for p in samples.column("prompt_ids").to_pylist()]))
    before = score_samples(plain, target, refs, config, METRICS)
    after = score_samples(plain, target, refs, config, METRICS, span_from=zeros[: plain.num_rows])
    assert before.equals(after)


def test_merged_adapter_scores_the_same(replica, samples, chat_model_dir, adapter_dir):
    target, refs = replica
    merged = load_causal_lm(str(chat_model_dir), "float32", "cpu", adapter=str(adapter_dir), merge=True)
    plain_base = load_causal_lm(str(chat_model_dir), "float32", "cpu")
    config = ScoringConfig()
    shared = score_samples(samples, target, refs, config, METRICS, span_from=pa.array(SPAN_FROM)).to_pydict()
    separate = score_samples(samples, merged, {"base": plain_base}, config, METRICS,
                             span_from=pa.array(SPAN_FROM)).to_pydict()
    for name in ["nll_target", "nll_base", *[f"score_{m}" for m in METRICS]]:
        np.testing.assert_allclose(shared[name], separate[name], atol=1e-4, rtol=1e-4)
