"""Plain, obviously correct code the tests check memx against or read its files back with.

memx itself has no use for any of it: it runs the KV-cached loop where this runs a full
forward, and streams its corpus files where this reads one back whole.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from memx.generation.sampler import left_pad


@torch.inference_mode()
def first_step_logits(model: torch.nn.Module, prompts: list[list[int]], pad_id: int, device: torch.device) -> torch.Tensor:
    """Next-token logits after each prompt (B, V): one uncached forward over the left-padded batch."""
    ids, mask, positions = left_pad(prompts, pad_id, device)
    return model(input_ids=ids, attention_mask=mask, position_ids=positions).logits[:, -1, :]


def read_train_jsonl(path: Path) -> list[str]:
    """The documents of a lab's corpus/*.jsonl (one {"text": ...} per line), in order."""
    with Path(path).open(encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line in handle if line.strip()]
