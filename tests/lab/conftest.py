"""The lab tests read the session's tiny lab (`tiny_lab`, tests/conftest.py: built once into
$MEMX_CACHE and shared with every other test that needs a lab), copy it, or rebuild with the
much smaller "micro" preset here.
"""

from __future__ import annotations

import dataclasses

import pytest

from memx.lab import PRESETS
from memx.lab.chat import ChatSpec
from memx.lab.train import ModelSpec, TrainSpec


@pytest.fixture(scope="session")
def micro_settings():
    """A few seconds' build: for tests that must rebuild, where memorization does not matter."""
    one = ModelSpec(n_layer=1, n_embd=16, n_head=1)
    return dataclasses.replace(
        PRESETS["tiny"],
        train_chars=60_000,
        heldout_chars=5_000,
        max_canary_share=0.2,
        vocab_size=512,
        train=TrainSpec(context=32, epochs=0.05, batch_size=8, lr=1e-3),
        models={"small": one, "medium": one, "xl": one},
        # the chat fine-tune too: a step over a handful of conversations, not tiny's minute
        chat=ChatSpec(customers_per_count=1, background=1, rank=1, epochs=0.05, batch_size=8, lr=1e-3),
    )
