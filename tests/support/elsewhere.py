"""A value computed in a fresh Python process (its own hash seed), for determinism tests: a
call compared with itself in one process proves nothing about a rerun tomorrow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def in_fresh_process(code: str, hash_seed: str = "12345") -> str:
    """What `code` (Python that prints one line) prints in a new interpreter at the repository root."""
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=True)
    return done.stdout.strip().splitlines()[-1]
