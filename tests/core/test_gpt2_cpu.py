"""memx's GPT-2 CPU forward against the Hugging Face module it replaces: logits at every
decode step and of a whole right-padded pass equal a fresh HF forward (GPT-2 config
variants, with and without oneDNN), greedy equal to the HF-cached loop (sampled rows:
test_generate), a repack after an in-place weight change, and the HF path for every model
it does not compute."""

from __future__ import annotations

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, GPTNeoXConfig, GPTNeoXForCausalLM

from memx.generation import greedy_complete, sample_batch
from memx import gpt2_cpu
from memx.generation.processors import greedy
from memx.generation.sampler import default_decoder
from tests.support.reference import first_step_logits

PROMPTS = [[5, 17, 33, 2, 9, 41, 8, 12, 3], [7, 11], [19, 23, 29, 31], [4]]
VARIANTS = {
    "gpt2": {},
    "untied, exact GELU, scaled by layer": {"tie_word_embeddings": False, "activation_function": "gelu",
                                            "scale_attn_by_inverse_layer_idx": True},
    "tanh GELU, unscaled attention": {"activation_function": "gelu_pytorch_tanh", "scale_attn_weights": False},
}


def _model(**overrides) -> GPT2LMHeadModel:
    torch.manual_seed(11)
    config = GPT2Config(vocab_size=64, n_positions=48, n_embd=32, n_layer=3, n_head=4,
                        bos_token_id=0, eos_token_id=0, **overrides)
    return GPT2LMHeadModel(config).eval()


def _recorded_logits(model, prompts, steps, decoder):
    """Every step's logits of the cached loop, and the greedy tokens it chose."""
    seen: list[torch.Tensor] = []

    def recording(step, logits, uniforms):
        seen.append(logits.clone())
        return greedy(logits)

    tokens = sample_batch(model, prompts, 0, steps, torch.zeros((len(prompts), steps)), recording,
                          torch.device("cpu"), decoder=decoder)
    return seen, tokens


@pytest.fixture(params=[(v, o) for o in (True, False) for v in VARIANTS],
                ids=[f"{v}-{'onednn' if o else 'plain-linear'}" for o in (True, False) for v in VARIANTS])
def variant_model(request, monkeypatch):
    """(a GPT-2 of each config variant, whether its linears run through oneDNN)."""
    variant, onednn = request.param
    if onednn and not gpt2_cpu.onednn_available():
        pytest.skip("this torch build has no oneDNN linear")
    monkeypatch.setattr(gpt2_cpu, "onednn_available", lambda: onednn)
    return _model(**VARIANTS[variant]), onednn


def test_every_step_matches_a_fresh_hf_forward(variant_model):
    model, onednn = variant_model
    assert default_decoder(model, "cpu") == "gpt2"
    steps = 6
    seen, tokens = _recorded_logits(model, PROMPTS, steps, "gpt2")
    assert (gpt2_cpu.Gpt2Decoder.for_model(model).lm_head.packed is not None) == onednn
    for step in range(steps):
        # Each row alone, unpadded and uncached, through HF's own forward.
        for row, prompt in enumerate(PROMPTS):
            fresh = first_step_logits(model, [prompt + tokens[row, :step].tolist()], 0, torch.device("cpu"))
            torch.testing.assert_close(seen[step][row], fresh[0], atol=2e-5, rtol=1e-4)


def test_a_whole_right_padded_pass_matches_each_row_alone_through_hf(variant_model):
    model, onednn = variant_model
    rows = sorted(PROMPTS, key=len, reverse=True)
    width = len(rows[0])
    ids = torch.tensor([row + [0] * (width - len(row)) for row in rows])  # right-padded with a real token id
    decoder = gpt2_cpu.Gpt2Decoder(model)
    assert (decoder.lm_head.packed is not None) == onednn
    logits = decoder.logits(ids)
    assert logits.shape == (len(rows), width, model.config.vocab_size)
    with torch.inference_mode():
        for r, row in enumerate(rows):
            alone = model(input_ids=torch.tensor([row])).logits[0]
            torch.testing.assert_close(logits[r, : len(row)], alone, atol=2e-5, rtol=1e-4)
    # keep=S projects the last S positions only, and they are the same numbers
    torch.testing.assert_close(decoder.logits(ids, keep=3), logits[:, -3:], atol=1e-6, rtol=0)


def test_greedy_matches_the_hf_loop_on_padded_batches():
    model = _model()
    ours = greedy_complete(model, PROMPTS * 3, 0, 12, torch.device("cpu"), batch_size=5, decoder="gpt2")
    hf = greedy_complete(model, PROMPTS * 3, 0, 12, torch.device("cpu"), batch_size=5, decoder="static")
    assert ours.tolist() == hf.tolist()
    assert ours[: len(PROMPTS)].tolist() == ours[len(PROMPTS) : 2 * len(PROMPTS)].tolist()  # batch-independent


def test_an_in_place_weight_change_repacks():
    model = _model(tie_word_embeddings=False)
    before = greedy_complete(model, PROMPTS, 0, 4, torch.device("cpu"), decoder="gpt2")
    with torch.no_grad():
        model.lm_head.weight.neg_()  # every logit flips sign: the argmax becomes the argmin
    after = greedy_complete(model, PROMPTS, 0, 4, torch.device("cpu"), decoder="gpt2")
    assert after[0, 0] != before[0, 0]
    assert after.tolist() == greedy_complete(model, PROMPTS, 0, 4, torch.device("cpu"), decoder="static").tolist()


def test_other_models_use_the_hf_module():
    neox = GPTNeoXForCausalLM(GPTNeoXConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                            intermediate_size=64, max_position_embeddings=48)).eval()
    relu = _model(activation_function="relu")
    assert not gpt2_cpu.supports(neox, "cpu") and default_decoder(neox, "cpu") != "gpt2"
    assert not gpt2_cpu.supports(relu, "cpu")
    assert not gpt2_cpu.supports(_model(), "cuda")
    assert not gpt2_cpu.supports(_model().to(torch.bfloat16), "cpu")
    # The fallback is whole: the HF path generates for a model the decoder refuses.
    assert greedy_complete(relu, PROMPTS, 0, 3, torch.device("cpu")).shape == (len(PROMPTS), 3)
    with pytest.raises(ValueError, match="decoder must be one of gpt2, static, dynamic"):
        sample_batch(relu, PROMPTS, 0, 2, torch.zeros((4, 2)), lambda s, logits, u: greedy(logits),
                     torch.device("cpu"), decoder="paged")


PINNED_TORCH = "2.13.0"  # README's quick start: the CPU build the figures were measured on


def test_the_pinned_torch_takes_the_prepacked_onednn_path(monkeypatch):
    """The decoder's speed rests on private torch ops it guards with hasattr: on the pinned
    torch they must exist and every linear layer (each block's four and the LM head) must
    run prepacked through them, never quietly through F.linear."""
    pinned = torch.__version__.split("+")[0] == PINNED_TORCH
    if not pinned and not gpt2_cpu.onednn_available():
        pytest.skip(f"torch {torch.__version__} is not the pinned {PINNED_TORCH} and has no oneDNN linear")
    assert torch.backends.mkldnn.is_available()
    assert hasattr(torch.ops.mkldnn, "_reorder_linear_weight") and hasattr(torch.ops.mkldnn, "_linear_pointwise")
    assert gpt2_cpu.onednn_available()
    model = _model()
    decoder = gpt2_cpu.Gpt2Decoder(model)
    linears = [decoder.lm_head] + [layer for block in decoder.blocks
                                   for layer in (block.qkv, block.out, block.up, block.down)]
    assert len(linears) == 1 + 4 * model.config.n_layer
    assert all(layer.packed is not None for layer in linears)
    calls = {"onednn": 0, "F.linear": 0}
    onednn, plain = torch.ops.mkldnn._linear_pointwise, gpt2_cpu.F.linear

    def counted_onednn(*args):
        calls["onednn"] += 1
        return onednn(*args)

    def counted_plain(*args, **kwargs):
        calls["F.linear"] += 1
        return plain(*args, **kwargs)

    monkeypatch.setattr(torch.ops.mkldnn, "_linear_pointwise", counted_onednn)
    monkeypatch.setattr(gpt2_cpu.F, "linear", counted_plain)
    monkeypatch.setitem(gpt2_cpu._DECODERS, model, decoder)
    steps = 3
    tokens = greedy_complete(model, PROMPTS, 0, steps, torch.device("cpu"), batch_size=len(PROMPTS), decoder="gpt2")
    assert tokens.shape == (len(PROMPTS), steps)
    # one prefill and steps - 1 single-token steps, each through every linear layer
    assert calls == {"onednn": steps * len(linears), "F.linear": 0}
