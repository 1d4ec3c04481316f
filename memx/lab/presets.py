"""The lab's presets: every setting that changes what a build produces, and its cache key.

`tiny` is for tests (the whole build in under a minute on 2 CPU cores; weak models,
but the largest one memorizes canaries repeated 16+ times). `default` is the demo (a
few CPU minutes; the `xl` analogue memorizes canaries seen 8+ times and rarely those
seen once). The cache key hashes the settings, the seed, the Python version (the corpus
is that version's stdlib) and a format number bumped whenever the build logic changes
what it writes. This module does not build anything.

The family follows the paper's: `xl` is the target, `small` and `medium` are references
trained on the same data for the same steps with the parameter shares of GPT-2 small and
medium against GPT-2 XL (`PAPER_PARAMETERS`; the lab's tiny models are mostly
embedding, so matching layer shapes would not match these shares, and the shares are what
the paper's capacity gap is), and `out` is the target's shape trained on a disjoint
sample of the same kind of text (the LiRA "out" model; Mireshghallah et al. 2022).
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import asdict, dataclass, field

from memx.errors import ConfigError
from memx.lab.chat import ChatSpec
from memx.lab.train import ModelSpec, TrainSpec

FORMAT = 6  # 4: the chat fine-tune (models/xl-chat, chat-index, customers.parquet); 5: paragraphs set aside as membership non-members; 6: no held-out paragraph in `out`'s disjoint text
MODEL_NAMES = ("small", "medium", "xl", "out")
TARGET = "xl"
# The corpus each model trains on: the training split (with canaries) or the disjoint one.
MODEL_SPLITS = {"small": "train", "medium": "train", "xl": "train", "out": "disjoint"}
# GPT-2 small, medium and XL as released (tied output head), the paper's reference and
# target models: small is 1/12.5 of XL, medium 1/4.4.
PAPER_PARAMETERS = {"small": 124_439_808, "medium": 354_823_168, "xl": 1_557_611_200}


@dataclass(frozen=True)
class LabSettings:
    train_chars: int  # stdlib text in the training corpus, before canaries
    heldout_chars: int  # text of the held-out `internet` prompt corpus
    max_doc_lines: int  # documents are cut from source files at blank lines up to this size
    canaries_per_count: int  # canaries for each repetition count 1, 2, 4, ... 64
    max_canary_share: float  # build fails if canary copies exceed this share of tokens
    vocab_size: int
    train: TrainSpec
    models: dict[str, ModelSpec] = field(default_factory=dict)  # small, medium, xl (`out` is xl's shape)
    # training-split text set aside as the membership pair's non-members (memx.lab.membership)
    nonmember_chars: int = 0
    # sizes written into the lab's memx.yaml (a CPU demo, not the paper's 200k samples)
    samples_per_strategy: int = 300
    shard_size: int = 50
    max_new_tokens: int = 128
    scoring_window: int = 32
    pool: int = 100
    per_config: int = 10
    # the chat fine-tune (memx.lab.chat): one planted customer per copy count, 60 others
    # once; the LoRA's steps are what fits the 90 s the chat part may add to a build
    chat: ChatSpec = ChatSpec(customers_per_count=1, background=60, rank=8, epochs=4, batch_size=16, lr=1e-2)

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
        # the paper's shares too (small 8.0%, medium 21.4% of xl), which keeps the
        # four-model build under a minute
        models={
            "small": ModelSpec(n_layer=1, n_embd=40, n_head=1),
            "medium": ModelSpec(n_layer=2, n_embd=64, n_head=2),
            "xl": ModelSpec(n_layer=2, n_embd=160, n_head=2),
        },
        nonmember_chars=40_000,
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
        # xl as before (its memorization regime is the demo's); small and medium sized to
        # GPT-2's shares of XL: 132,816 / 1,752,768 = 7.6% (paper 8.0%) and 405,904 /
        # 1,752,768 = 23.2% (paper 22.8%); depth grows with size, as in GPT-2. A larger
        # xl does not fit the time budget once `out` (a second xl) is trained as well.
        models={
            "small": ModelSpec(n_layer=1, n_embd=48, n_head=1),
            "medium": ModelSpec(n_layer=2, n_embd=92, n_head=2),
            "xl": ModelSpec(n_layer=3, n_embd=192, n_head=4),
        },
        # 1,000 per strategy keeps the demo near 2 minutes on 2 cores once the lab is
        # built, and makes per_config 10 a 1% selection (the paper's: 100 of 200,000)
        nonmember_chars=80_000,
        samples_per_strategy=1000,
        shard_size=100,
        max_new_tokens=96,
        scoring_window=32,
        pool=100,
        per_config=10,
        # measured: 77.9 s wall (50.4 s CPU) for the chat part at load average 4.8 on the
        # 2-core machine; prompted with a customer's name, the adapter then writes the
        # address of those seen 64, 32, 16 and 8 times and the card number of those seen
        # 64, 32 and 16 times verbatim, nothing of those seen 4 times or fewer
        chat=ChatSpec(customers_per_count=1, background=40, rank=16, epochs=8, batch_size=16, lr=1e-2),
    ),
}


def model_spec(settings: LabSettings, name: str) -> ModelSpec:
    """The shape of model `name`: `out` is always the target's."""
    return settings.models[TARGET if name == "out" else name]


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
