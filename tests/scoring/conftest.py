"""Fixtures for the scoring tests: tiny random GPT-2s saved as HF dirs, loaded on the CPU.

`target` and `ref_same` share tokenizer A (so `same_vocabulary` holds); `ref_foreign` has
tokenizer B, trained to a different vocabulary size, so its path re-tokenizes text.
The target's context is 64 positions so truncation is cheap to exercise.
"""

from __future__ import annotations

import pytest

from memx.models import load_causal_lm
from tests.scoring.scoring_fixtures import TARGET_CONTEXT, build_model, build_tokenizer


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("scoring-models")
    tok_a = build_tokenizer(root / "tok_a", vocab_size=400)
    tok_b = build_tokenizer(root / "tok_b", vocab_size=300)
    return {
        "target": build_model(root / "target", tok_a, n_embd=32, n_layer=2, n_positions=TARGET_CONTEXT, seed=1),
        "ref_same": build_model(root / "ref_same", tok_a, n_embd=16, n_layer=1, n_positions=256, seed=2),
        "ref_foreign": build_model(root / "ref_foreign", tok_b, n_embd=16, n_layer=1, n_positions=256, seed=3),
    }


@pytest.fixture(scope="session")
def models(model_dirs):
    return {name: load_causal_lm(str(path), dtype="float32", device="cpu") for name, path in model_dirs.items()}


@pytest.fixture(scope="session")
def target(models):
    return models["target"]
