"""One tiny lab per test session, built into a temp dir and shared by every lab test.

The build is the expensive part (about a minute on 2 cores); everything else in
tests/lab reads it, copies it, or uses a much smaller "micro" preset for rebuilds.
"""

from __future__ import annotations

import dataclasses

import pytest

from memx.lab import PRESETS, build_lab
from memx.lab.train import ModelSpec, TrainSpec


@pytest.fixture(scope="session")
def tiny_lab(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab") / "tiny"
    return build_lab(out, preset="tiny", seed=0, progress=False)


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
    )
