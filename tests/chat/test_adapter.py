"""A PEFT adapter over the target: one copy of the base weights, the base's own forward
with the adapter disabled (the `ratio_base` reference on the target's replica), and the
merged adapter's logits equal to the unmerged one's."""

from __future__ import annotations

import pytest
import torch

from memx.errors import ConfigError
from memx.models import base_view, load_causal_lm


@pytest.fixture(scope="module")
def ids(tokenizer):
    rows = tokenizer(["the river and the mountain", "golden market morning island"], add_special_tokens=False)
    width = min(len(r) for r in rows["input_ids"])
    return torch.tensor([r[:width] for r in rows["input_ids"]])


def _logits(model, ids):
    with torch.inference_mode():
        return model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False).logits


def test_base_weights_exist_once(chat_model_dir, adapter_dir):
    plain = load_causal_lm(str(chat_model_dir), dtype="float32", device="cpu")
    lm = load_causal_lm(str(chat_model_dir), dtype="float32", device="cpu", adapter=str(adapter_dir))
    base = base_view(lm, "base")
    unique = {p.data_ptr(): p.numel() for p in lm.model.parameters()}
    lora = sum(p.numel() for n, p in lm.model.named_parameters() if "lora_" in n)
    assert lora > 0
    assert sum(unique.values()) == sum(p.numel() for p in plain.model.parameters()) + lora
    assert {p.data_ptr() for p in base.model.parameters()} <= set(unique)  # the view owns no weights


def test_disabled_adapter_is_the_plain_base(chat_model_dir, adapter_dir, ids):
    plain = load_causal_lm(str(chat_model_dir), dtype="float32", device="cpu")
    lm = load_causal_lm(str(chat_model_dir), dtype="float32", device="cpu", adapter=str(adapter_dir))
    tuned, base = _logits(lm.model, ids), _logits(base_view(lm).model, ids)
    assert torch.equal(base, _logits(plain.model, ids))
    assert (tuned - base).abs().max() > 1e-2  # the adapter is on outside the view
    assert torch.equal(_logits(lm.model, ids), tuned)  # and back on after the view's forward


def test_merged_adapter_gives_the_same_logits(chat_model_dir, adapter_dir, ids):
    lm = load_causal_lm(str(chat_model_dir), dtype="float32", device="cpu", adapter=str(adapter_dir))
    merged = load_causal_lm(str(chat_model_dir), dtype="float32", device="cpu", adapter=str(adapter_dir), merge=True)
    assert not hasattr(merged.model, "disable_adapter")  # a plain model: memx's GPT-2 decoder applies
    assert (_logits(merged.model, ids) - _logits(lm.model, ids)).abs().max() < 1e-4


def test_a_directory_that_is_no_adapter_is_a_config_error(chat_model_dir, tmp_path):
    with pytest.raises(ConfigError, match=r"^target\.adapter: .*no adapter_config\.json"):
        load_causal_lm(str(chat_model_dir), dtype="float32", device="cpu", adapter=str(tmp_path))
    plain = load_causal_lm(str(chat_model_dir), dtype="float32", device="cpu")
    with pytest.raises(ValueError, match="no unmerged adapter"):
        base_view(plain)


def test_scoring_passes_run_on_the_view(chat_model_dir, adapter_dir, tokenizer):
    """memx.scoring's forward pass takes the adapter-disabled view like any model: the
    base's per-token log-likelihoods, from the target's replica."""
    from memx.scoring.passes import context_length, token_stats

    plain = load_causal_lm(str(chat_model_dir), dtype="float32", device="cpu")
    lm = load_causal_lm(str(chat_model_dir), dtype="float32", device="cpu", adapter=str(adapter_dir))
    rows = tokenizer(["the river and the mountain", "golden market"], add_special_tokens=False)["input_ids"]
    view = base_view(lm, "base")
    assert context_length(view) == context_length(plain) == context_length(lm)
    ours, theirs = token_stats(view, rows, 2), token_stats(plain, rows, 2)
    assert torch.allclose(ours.logp, theirs.logp, atol=1e-6)
    assert not torch.allclose(token_stats(lm, rows, 2).logp, theirs.logp, atol=1e-3)


def test_the_folded_target_equals_peft_and_leaves_the_weights_as_they_were(chat_model_dir, adapter_dir, ids):
    """Scoring's target: each LoRA folded into its weight for the call (`folded_view`), the same
    logits as peft's own forward; the stored weights, the base view and peft's layers unchanged."""
    from memx.models import folded_view

    lm = load_causal_lm(str(chat_model_dir), dtype="float32", device="cpu", adapter=str(adapter_dir))
    weights = {name: p.clone() for name, p in lm.model.named_parameters()}
    base_before = _logits(base_view(lm).model, ids)
    folded = folded_view(lm)
    assert folded.model._layers, "the lab adapter's LoRA layers are folded"
    assert (_logits(folded.model, ids) - _logits(lm.model, ids)).abs().max() < 1e-4
    assert all(torch.equal(p, weights[name]) for name, p in lm.model.named_parameters())
    assert torch.equal(_logits(base_view(lm).model, ids), base_before)
    assert not any("forward" in vars(layer) for layer in folded.model._layers)  # peft's forward is back
    with pytest.raises(ValueError, match="no unmerged adapter"):
        folded_view(load_causal_lm(str(chat_model_dir), dtype="float32", device="cpu"))


def test_a_dora_adapter_keeps_pefts_forward(chat_model_dir, tmp_path, ids):
    """An adapter peft applies some other way than base + s·B·A is never folded."""
    from peft import LoraConfig, get_peft_model

    from memx.models import AdapterFolded

    plain = load_causal_lm(str(chat_model_dir), dtype="float32", device="cpu")
    dora = get_peft_model(plain.model, LoraConfig(r=4, target_modules=["c_attn"], use_dora=True,
                                                  fan_in_fan_out=True, init_lora_weights=False))
    folded = AdapterFolded(dora)
    assert folded._layers == []
    assert torch.equal(_logits(folded, ids), _logits(dora, ids))
