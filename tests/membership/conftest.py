"""Text every Python installation carries, for the membership tests: stdlib code paragraphs
(the lab's kind of text) and a set of another kind (docstrings of modules written in C,
prose that no .py file of the stdlib holds)."""

from __future__ import annotations

import random

import pytest

import sysconfig
from pathlib import Path

from memx.lab.corpus import heldout_paragraphs


def docstrings(min_chars: int = 100) -> list[str]:
    import builtins, itertools, math, sys, time  # noqa: E401 - C modules: no .py source in the lab's corpus

    seen, out = set(), []
    for module in (builtins, math, itertools, sys, time):
        for name in sorted(dir(module)):
            doc = getattr(getattr(module, name), "__doc__", None)
            if isinstance(doc, str) and len(doc) >= min_chars and doc not in seen:
                seen.add(doc)
                out.append(doc)
    return out


@pytest.fixture(scope="session")
def code_paragraphs() -> list[str]:
    """Paragraphs of stdlib source files (at least 100 characters), a seeded shuffle of them."""
    files = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))  # the top level: quick to list
    random.Random(0).shuffle(files)
    out = []
    for path in files[:150]:
        try:
            out.extend(heldout_paragraphs(path.read_text(encoding="utf-8"), 100)[:4])
        except (UnicodeDecodeError, OSError):
            continue
    return out


@pytest.fixture(scope="session")
def shifted_texts() -> list[str]:
    return docstrings()
