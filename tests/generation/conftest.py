"""Fixtures for generation tests: a tiny random GPT-2 and a byte-level BPE tokenizer trained
on a few KB of generated English-like text, saved as an ordinary Hugging Face directory.

Built once per test session in a tmp dir (no hub access anywhere); the weights are random,
so tests check mechanics (shapes, determinism, padding), never what the model says.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

EOT = "<|endoftext|>"
_WORDS = (
    "the of and to is that for it with as are be by this have from or at not but which you his they we "
    "river mountain window garden letter engine silver market morning island station paper voice winter "
    "quickly slowly carefully brightly quietly build carry follow measure listen remember travel wonder "
    "ancient golden hidden narrow gentle heavy modern simple strange distant 1984 2021 42 7"
).split()


def english_like_text(n_sentences: int = 300, seed: int = 0) -> str:
    rng = random.Random(seed)
    sentences = []
    for _ in range(n_sentences):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(6, 16))]
        sentences.append(" ".join(words).capitalize() + rng.choice([".", ".", "!", "?", ","]))
    lines, line = [], []
    for sentence in sentences:
        line.append(sentence)
        if len(line) == 5:
            lines.append(" ".join(line))
            line = []
    return "\n".join(lines + [" ".join(line)]) + "\n"


def build_tiny_lm(directory: Path, text: str, vocab_size: int = 400, n_layer: int = 2, n_embd: int = 32) -> Path:
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    import torch

    raw = ByteLevelBPETokenizer()
    raw.train_from_iterator(text.splitlines(), vocab_size=vocab_size, min_frequency=2, special_tokens=[EOT])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw._tokenizer, bos_token=EOT, eos_token=EOT, unk_token=EOT)
    eot = tokenizer.convert_tokens_to_ids(EOT)
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=512, n_embd=n_embd, n_layer=n_layer, n_head=2,
        bos_token_id=eot, eos_token_id=eot,
    )
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(directory)
    model.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def corpus_text() -> str:
    return english_like_text()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, corpus_text) -> Path:
    return build_tiny_lm(tmp_path_factory.mktemp("tiny-gpt2"), corpus_text)


@pytest.fixture(scope="session")
def tiny_lm(tiny_model_dir):
    import torch

    from memx.models import load_causal_lm

    torch.set_num_threads(1)  # shared 2-core machine; the tiny model gains nothing from threads
    return load_causal_lm(str(tiny_model_dir), dtype="float32", device="cpu")


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory, corpus_text) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text(corpus_text, encoding="utf-8")
    return path
