"""The lab's chat run config (`memx-chat.yaml`, docs/chat.md): the xl with its chat
fine-tune (`models/xl-chat`, a LoRA adapter) as the target, the base xl as the `base`
reference (scored on the target's replica with the adapter off), the strategies
`template`, `divergence` and `top_k`, every sample verified against `chat-index`
(pretraining text and conversations).

The divergence prompts must leave room in the lab's small context: the repeat counts
are [1, r] with the largest r of REPEATS whose longest prompt leaves at least half the
context to generate, and `divergence.max_new_tokens` is what is left (capped at the
other strategies' length). It only writes a dict; it does not build or run.
"""

from __future__ import annotations

from pathlib import Path

REPEATS = (10, 5, 3, 2, 1)
CHAT_STRATEGIES = ["template", "divergence", "top_k"]


def divergence_section(adapter_dir: Path, context: int, max_new: int) -> dict:
    """Words, repeat counts and max_new_tokens that fit the lab's context."""
    from transformers import AutoTokenizer

    from memx.chat.divergence import divergence_message
    from memx.config.chat import DivergenceConfig
    from memx.chat.templates import message_prompt, resolve_template

    tokenizer = AutoTokenizer.from_pretrained(str(adapter_dir))  # ships the chat template
    template = resolve_template("auto", tokenizer)
    defaults = DivergenceConfig()
    for r in REPEATS:
        longest = max(len(message_prompt(tokenizer, template, divergence_message(defaults.message, word, r)))
                      for word in defaults.words)
        if context - longest >= context // 2 or r == 1:
            break
    repeats = sorted({1, r})
    return {"words": defaults.words, "repeats": repeats, "max_new_tokens": max(1, min(max_new, context - longest))}


def make_chat_config(lab_dir: Path, preset: str, settings: dict, files_at: Path | None = None,
                     samples: int | None = None) -> dict:
    """The chat run config for a lab at `lab_dir` (its files now at `files_at`, default `lab_dir`)."""
    from memx.lab.runconfig import min_match_tokens

    lab_dir = Path(lab_dir).resolve()
    models = lab_dir / "models"
    context = settings["train"]["context"]
    max_new = min(settings["max_new_tokens"], context - 10)
    divergence = divergence_section(Path(files_at or lab_dir) / "models" / "xl-chat", context, max_new)
    shard = settings["shard_size"]
    return {
        "run_id": f"lab-{preset}-chat",
        "output": str(lab_dir / "runs"),
        "target": {"model": str(models / "xl"), "adapter": str(models / "xl-chat"), "chat_template": "auto"},
        "references": [{"name": "base", "model": str(models / "xl")}],
        "generation": {
            "strategies": CHAT_STRATEGIES,
            "samples_per_strategy": samples or settings["samples_per_strategy"],
            "shard_size": shard, "batch_size": min(shard, 128),
            "max_new_tokens": max_new, "top_k": 40, "seed": 0,
            "divergence": divergence,
        },
        "scoring": {"metrics": ["perplexity", "ratio", "zlib", "lowercase", "min_k"], "batch_size": 25},
        "selection": {"pool": settings["pool"], "per_config": settings["per_config"]},
        "verify": {"index": str(lab_dir / "chat-index"), "min_match_tokens": min_match_tokens(max_new),
                   "scope": "all"},
        "cluster": {"actors": "auto", "gpus_per_actor": 1},
    }


def lab_chat_config(lab_dir: str | Path, samples: int | None = None) -> dict:
    """The chat run config for a built lab, with paths where the lab is now."""
    from memx.lab.labdir import check_lab

    lab_dir = Path(lab_dir).resolve()
    meta = check_lab(lab_dir, hashes=False)
    return make_chat_config(lab_dir, meta["preset"], meta["settings"], samples=samples)
