"""The lab's presets: every setting that changes what a build produces, and its cache key.

`tiny` is for tests (the whole build in about a minute on 2 CPU cores; weak models,
but the largest one memorizes canaries repeated 16+ times). `default` is the demo (a
few CPU minutes; the `xl` analogue memorizes canaries seen 8+ times and rarely those
seen once). The cache key hashes the settings, the seed, the Python version (the corpus
is that version's stdlib) and a format number bumped whenever the build logic changes
what it writes. This module does not build anything.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import asdict, dataclass, field

from memx.errors import ConfigError
from memx.lab.train import ModelSpec, TrainSpec

FORMAT = 2
MODEL_NAMES = ("small", "medium", "xl")


@dataclass(frozen=True)
class LabSettings:
    train_chars: int  # stdlib text in the training corpus, before canaries
    heldout_chars: int  # text of the held-out `internet` prompt corpus
    max_doc_lines: int  # documents are cut from source files at blank lines up to this size
    canaries_per_count: int  # canaries for each repetition count 1, 2, 4, ... 64
    max_canary_share: float  # build fails if canary copies exceed this share of tokens
    vocab_size: int
    train: TrainSpec
    models: dict[str, ModelSpec] = field(default_factory=dict)
    # sizes written into the lab's memx.yaml (a CPU demo, not the paper's 200k samples)
    samples_per_strategy: int = 300
    shard_size: int = 50
    max_new_tokens: int = 128
    scoring_window: int = 32
    pool: int = 100
    per_config: int = 10

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, LabSettings] = {
    "tiny": LabSettings(
        train_chars=160_000,
        heldout_chars=20_000,
        max_doc_lines=60,
        canaries_per_count=1,
        max_canary_share=0.06,  # tests only: ~4.7% here; the demo stays under 5%
        vocab_size=1024,
        train=TrainSpec(context=64, epochs=7, batch_size=16, lr=3e-3),
        models={
            "small": ModelSpec(n_layer=1, n_embd=48, n_head=1),
            "medium": ModelSpec(n_layer=1, n_embd=96, n_head=2),
            "xl": ModelSpec(n_layer=2, n_embd=160, n_head=2),
        },
        samples_per_strategy=100,
        shard_size=50,
        max_new_tokens=48,
        scoring_window=16,
        pool=40,
        per_config=5,
    ),
    "default": LabSettings(
        train_chars=330_000,
        heldout_chars=60_000,
        max_doc_lines=80,
        canaries_per_count=2,
        max_canary_share=0.05,
        vocab_size=2048,
        # Many passes over a small corpus rather than one over a big one: CPU minutes buy
        # a few hundred optimizer steps, and memorization needs exposures, so a canary
        # seen 8 times is seen ~100 times in training and one seen once ~12 times.
        train=TrainSpec(context=128, epochs=12, batch_size=16, lr=3e-3),
        models={
            "small": ModelSpec(n_layer=2, n_embd=96, n_head=2),
            "medium": ModelSpec(n_layer=2, n_embd=160, n_head=4),
            "xl": ModelSpec(n_layer=3, n_embd=192, n_head=4),
        },
        # 1,000 per strategy keeps the demo near 2 minutes on 2 cores once the lab is
        # built, and makes per_config 10 a 1% selection (the paper's: 100 of 200,000)
        samples_per_strategy=1000,
        shard_size=100,
        max_new_tokens=96,
        scoring_window=32,
        pool=100,
        per_config=10,
    ),
}


def get_preset(name: str) -> LabSettings:
    if name not in PRESETS:
        raise ConfigError(f"lab preset {name!r}: unknown (choose one of {', '.join(PRESETS)})")
    return PRESETS[name]


def python_version() -> str:
    return ".".join(str(part) for part in sys.version_info[:3])


def settings_key(preset: str, settings: LabSettings, seed: int) -> str:
    """Short hash of everything that determines the build's output."""
    payload = {"format": FORMAT, "preset": preset, "seed": seed, "python": python_version(),
               "settings": settings.to_dict()}
    blob = json.dumps(payload, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]
