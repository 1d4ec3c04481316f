"""Fixtures for the extraction tests: a tiny random GPT-2 (fast tests of the mechanics) and the
lab's trained `xl` (the default lab cached under $MEMX_CACHE when there is one, else a tiny lab
built for the session), each with a document source written by the test."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def family(tmp_path_factory):
    from tests.support.tiny import build_family

    return build_family(tmp_path_factory.mktemp("extraction-family"))


@pytest.fixture(scope="session")
def tiny(family):
    import torch

    from memx.models import load_causal_lm

    torch.set_num_threads(1)
    return load_causal_lm(family["xl"], dtype="float32", device="cpu")


@pytest.fixture(scope="session")
def lab_dir(tmp_path_factory):
    """A built lab: the cached default one if present (no training), else a tiny one built here."""
    from memx.lab import build_lab
    from memx.lab.build import lab_path

    cached = lab_path("default")
    if (cached / "lab.json").exists():
        return cached
    return build_lab(tmp_path_factory.mktemp("lab") / "tiny", preset="tiny", seed=0, progress=False)


@pytest.fixture(scope="session")
def lab_xl(lab_dir):
    import torch

    from memx.models import load_causal_lm

    torch.set_num_threads(1)
    return load_causal_lm(str(Path(lab_dir) / "models" / "xl"), dtype="float32", device="cpu")
