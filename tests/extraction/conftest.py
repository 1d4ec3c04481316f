"""Fixtures for the extraction tests: a tiny random GPT-2 (fast tests of the mechanics) and the
trained `xl` of the session's tiny lab (tests/conftest.py), each with a document source
written by the test."""

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
def lab_dir(tiny_lab):
    """The session's tiny lab (tests/conftest.py), the same on every machine."""
    return tiny_lab


@pytest.fixture(scope="session")
def lab_xl(lab_dir):
    import torch

    from memx.models import load_causal_lm

    torch.set_num_threads(1)
    return load_causal_lm(str(Path(lab_dir) / "models" / "xl"), dtype="float32", device="cpu")
