"""Fixtures for the chat tests: the generation tests' tiny byte-level tokenizer and random
GPT-2 (tests/generation/conftest.py), and a copy of the tokenizer with ChatML's markers
added as special tokens, as instruct models ship them."""

from __future__ import annotations

import pytest

from tests.generation.conftest import build_tiny_lm, english_like_text


@pytest.fixture(scope="session")
def chat_model_dir(tmp_path_factory):
    return build_tiny_lm(tmp_path_factory.mktemp("chat-gpt2"), english_like_text())


@pytest.fixture(scope="session")
def tokenizer(chat_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(chat_model_dir))


@pytest.fixture(scope="session")
def marked_tokenizer(chat_model_dir):
    """The same tokenizer with `<|im_start|>`/`<|im_end|>` and Llama 3's header markers as
    added special tokens (each one id, no bytes for verification)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(chat_model_dir))
    tok.add_special_tokens({"additional_special_tokens": [
        "<|im_start|>", "<|im_end|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]})
    return tok


@pytest.fixture(scope="session")
def adapter_dir(chat_model_dir, tmp_path_factory):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(str(chat_model_dir), dtype=torch.float32)
    # B initialised at random (not zeros), so the adapter changes what the model says
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["c_attn", "c_proj", "c_fc"], init_lora_weights=False,
                        fan_in_fan_out=True)
    model = get_peft_model(base, config)
    out = tmp_path_factory.mktemp("adapter") / "support-lora"
    model.save_pretrained(str(out))
    return out
