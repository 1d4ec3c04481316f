"""Tiny random GPT-2 models and byte-level BPE tokenizers, saved as Hugging Face dirs.

Shared by the scoring tests (conftest.py and the test modules) and by tests/bench/bench_score.py, so
both exercise `memx.models.load_causal_lm` on ordinary model directories. Nothing here is
downloaded: tokenizers are trained on text every Python installation carries (standard
library sources), weights are random. This module knows nothing about scoring.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import torch

EOT = "<|endoftext|>"
TARGET_CONTEXT = 64  # the test target's n_positions: small, so truncation is cheap to test


def training_text(max_bytes: int = 64_000) -> list[str]:
    """A few KB of real English-ish text and code: docstrings and sources of the stdlib."""
    root = Path(os.__file__).parent
    texts: list[str] = []
    total = 0
    for name in ("textwrap.py", "string.py", "shlex.py", "fnmatch.py", "glob.py", "getopt.py"):
        path = root / name
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        texts.append(text)
        total += len(text)
        if total >= max_bytes:
            break
    return texts


def build_tokenizer(out_dir: str | Path, vocab_size: int = 512, text: list[str] | None = None) -> Path:
    """Train a byte-level BPE with `<|endoftext|>` as bos/eos/unk and save it as an HF dir."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(text or training_text(), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=EOT, eos_token=EOT, unk_token=EOT)
    out_dir = Path(out_dir)
    fast.save_pretrained(out_dir)
    return out_dir


def build_model(
    out_dir: str | Path,
    tokenizer_dir: str | Path,
    *,
    n_embd: int = 32,
    n_layer: int = 2,
    n_head: int = 2,
    n_positions: int = 128,
    seed: int = 0,
    initializer_range: float = 0.2,
) -> Path:
    """A random GPT-2 over the tokenizer in `tokenizer_dir`, saved with a copy of it.

    The large `initializer_range` makes the next-token distributions far from uniform, so
    Min-K%++'s σ_t is not vanishingly small and float32 comparisons stay meaningful.
    """
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=n_positions,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        initializer_range=initializer_range,
    )
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config).eval()
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def make_samples(lm, texts: list[str], *, eos_inside: bool = False) -> pa.Table:
    """Sample rows as the generator writes them: BOS prompt, generated ids, decoded text."""
    bos = lm.bos_id
    prompts, tokens, decoded = [], [], []
    for i, text in enumerate(texts):
        ids = lm.tokenizer(text, add_special_tokens=False)["input_ids"]
        if eos_inside and len(ids) > 2:
            ids = ids[: len(ids) // 2] + [lm.tokenizer.eos_token_id] + ids[len(ids) // 2 :]
        prompts.append([bos])
        tokens.append(ids)
        decoded.append(lm.tokenizer.decode([bos, *ids], skip_special_tokens=True))
    return pa.table(
        {
            "sample_id": [f"top_k-00000-{i:05d}" for i in range(len(texts))],
            "prompt_ids": pa.array(prompts, type=pa.list_(pa.int32())),
            "token_ids": pa.array(tokens, type=pa.list_(pa.int32())),
            "text": decoded,
        }
    )


TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "def main():\n    return 0\n",
    "Contact John Smith at john.smith@example.com or +1 555 0100 for details. " * 3,
    "a",
    "Copyright (C) 2021 The Authors. Licensed under the Apache License, Version 2.0; you may not use this file.",
    "x = [i for i in range(10)]",
    "THE UPPER CASE TEXT SHOULD LOWERCASE DIFFERENTLY",
]


def plain_token_arrays(lm, ids: list[int]) -> dict[str, torch.Tensor]:
    """One unpadded forward pass over one sequence, then float64 log-softmax over the vocab.

    The independent reference the batched passes are checked against: logp of each next
    token, μ_t = Σ p log p, σ_t = sqrt(Σ p (log p − μ_t)²), for positions 1..N-1.
    """
    if len(ids) < 2:
        empty = torch.zeros(0, dtype=torch.float64)
        return {"logp": empty, "mu": empty, "sigma": empty}
    with torch.no_grad():
        logits = lm.model(torch.tensor([ids])).logits[0, :-1].double()
    logp_all = torch.log_softmax(logits, dim=-1)
    p = logp_all.exp()
    mu = (p * logp_all).sum(-1)
    sigma = (p * (logp_all - mu[:, None]) ** 2).sum(-1).sqrt()
    logp = logp_all[torch.arange(len(ids) - 1), torch.tensor(ids[1:])]
    return {"logp": logp, "mu": mu, "sigma": sigma}
