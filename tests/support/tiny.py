"""A tiny random GPT-2 family saved as Hugging Face directories, for orchestration tests.

Weights are random: these models exercise the machinery (queue, storage, manifests, kill
and resume), never what a model memorizes; the lab (memx.lab) is for that.
"""

from __future__ import annotations

import random
from pathlib import Path

EOT = "<|endoftext|>"


def prose(n_lines: int = 400, seed: int = 0) -> str:
    words = ("the of and to in is that for it with as was on be by this from or at an are not but which "
             "river window letter engine market island paper voice winter silver garden station morning "
             "build carry follow measure listen remember travel wonder ancient golden hidden narrow").split()
    rng = random.Random(seed)
    return "\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(8, 20))).capitalize() + "."
                     for _ in range(n_lines)) + "\n"


def build_family(root: Path, sizes: dict[str, tuple[int, int]] | None = None, vocab_size: int = 300) -> dict[str, str]:
    """{name: model dir} for models sharing one tokenizer; sizes maps name -> (layers, width)."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    sizes = sizes or {"xl": (2, 48), "small": (1, 16)}
    text = prose()
    raw = ByteLevelBPETokenizer()
    raw.train_from_iterator(text.splitlines(), vocab_size=vocab_size, min_frequency=2, special_tokens=[EOT])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw._tokenizer, bos_token=EOT, eos_token=EOT, unk_token=EOT)
    eot = tokenizer.convert_tokens_to_ids(EOT)
    dirs = {}
    for name, (layers, width) in sizes.items():
        torch.manual_seed(len(dirs))
        config = GPT2Config(vocab_size=len(tokenizer), n_positions=256, n_embd=width, n_layer=layers, n_head=2,
                            bos_token_id=eot, eos_token_id=eot)
        directory = root / name
        directory.mkdir(parents=True, exist_ok=True)
        GPT2LMHeadModel(config).save_pretrained(directory)
        tokenizer.save_pretrained(directory)
        dirs[name] = str(directory)
    (root / "prompts.txt").write_text(prose(200, seed=1))
    dirs["prompts"] = str(root / "prompts.txt")
    return dirs


def run_config(output: str, models: dict[str, str], run_id: str = "t", endpoint_url: str | None = None,
               samples: int = 24, shard_size: int = 8, **overrides) -> dict:
    """A small config dict in docs/config.md form over `build_family` models."""
    config = {
        "run_id": run_id, "output": output,
        "target": {"model": models["xl"], "dtype": "float32"},
        "references": [{"name": "small", "model": models["small"]}],
        "generation": {"strategies": ["top_k", "temperature", "internet"], "samples_per_strategy": samples,
                       "shard_size": shard_size, "batch_size": 8, "max_new_tokens": 24,
                       "internet": {"prompts": models["prompts"]}},
        "scoring": {"window": 8, "batch_size": 8},
        "selection": {"pool": 12, "per_config": 4},
        "cluster": {"actors": 1},
    }
    if endpoint_url:
        config["storage"] = {"endpoint_url": endpoint_url}
    for key, value in overrides.items():
        config[key] = value
    return config
