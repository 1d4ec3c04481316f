"""Helpers of the extraction tests: sources written by hand, configs with an extraction section,
and the independent log_p of a window (a plain HF forward, no memx code)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from memx.config import parse_config


def write_jsonl(path: Path, texts: list[str]) -> str:
    path.write_text("".join(json.dumps({"text": t}) + "\n" if t is not None else "\n" for t in texts),
                    encoding="utf-8")
    return str(path)


def extraction_config(model: str, output: str, **extraction) -> object:
    """A parsed Config whose `extraction` section is `extraction` (a source is required)."""
    return parse_config({"run_id": "x", "output": output, "target": {"model": model, "dtype": "float32"},
                         "generation": {"strategies": ["top_k"]}, "scoring": {"metrics": ["perplexity"]},
                         "extraction": extraction})


@torch.inference_mode()
def independent_log_p(model, ids: list[int], k: int, top_k: int | None, temperature: float = 1.0) -> float:
    """log p of ids[k:] given ids[:k]: one HF forward of the whole window, log-softmax of logits / T
    over the full vocabulary, top-k kept by a full sort, renormalized, summed over the suffix."""
    logits = model(input_ids=torch.tensor([ids])).logits[0].double()
    total = 0.0
    for position in range(k, len(ids)):
        row = torch.log_softmax(logits[position - 1] / temperature, dim=-1)
        true = ids[position]
        if top_k is None:
            if int(logits[position - 1].argmax()) != true:
                return float("-inf")
            continue
        kept = torch.argsort(row, descending=True)[:top_k]
        if true not in set(kept.tolist()):
            return float("-inf")
        total += float(row[true] - torch.logsumexp(row[kept], dim=0))
    return total
