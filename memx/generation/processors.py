"""Logits processors and the per-row sampler behind every generation strategy.

`DecayingTemperature` is the paper's annealed temperature (docs/formulas.md: 10 → 1, linearly,
over the first 20 generated tokens, then 1). `greedy` is the argmax rule of the `prefix`
strategy and the lab audit. `sample_top_k` and `sample_full` turn one
step's logits into token ids by inverse-CDF sampling driven by one uniform number per
row, so that a row's tokens depend only on its own uniforms and logits, never on which
other rows share the batch (OOM batch halving and length sorting then keep samples
identical). This module knows nothing about models, shards or prompts.
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor


class DecayingTemperature(LogitsProcessor):
    """Divide logits by T(step): `start` at generated token 0, `end` from `decay_tokens` on.

    Callable two ways: `proc(step, logits)` with the 0-based index of the token being
    generated, or HF-style `proc(input_ids, scores)` where the step is
    `input_ids.shape[1] - prompt_length` (so `prompt_length` must be given for that use).
    """

    def __init__(self, start: float = 10.0, end: float = 1.0, decay_tokens: int = 20, prompt_length: int | None = None):
        if start <= 0 or end <= 0:
            raise ValueError(f"temperatures must be positive, got start={start}, end={end}")
        if decay_tokens < 0:
            raise ValueError(f"decay_tokens must be >= 0, got {decay_tokens}")
        self.start = float(start)
        self.end = float(end)
        self.decay_tokens = int(decay_tokens)
        self.prompt_length = prompt_length

    def temperature(self, step: int) -> float:
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        if self.decay_tokens == 0 or step >= self.decay_tokens:
            return self.end
        return self.start + (self.end - self.start) * step / self.decay_tokens

    def __call__(self, step_or_input_ids: int | torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if isinstance(step_or_input_ids, torch.Tensor):
            if self.prompt_length is None:
                raise ValueError("DecayingTemperature used as an HF LogitsProcessor needs prompt_length")
            step = int(step_or_input_ids.shape[-1]) - self.prompt_length
        else:
            step = int(step_or_input_ids)
        # Division in fp32 at least: bf16 logits / 10 would lose the low bits the flat
        # high-temperature distribution is made of.
        return scores.float() / self.temperature(step)


def inverse_cdf(probs: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """Index drawn from each row of `probs` (B, V, unnormalised ok) with one uniform in [0, 1) per row.

    Exact sampling: the first index whose cumulative mass exceeds u * total; a zero-mass
    entry can never be picked because its CDF equals its predecessor's.
    """
    cdf = probs.float().cumsum(dim=-1)
    target = uniforms.float().unsqueeze(-1) * cdf[:, -1:]
    index = torch.searchsorted(cdf, target, right=True)
    return index.clamp_(max=probs.shape[-1] - 1).squeeze(-1)


def top_k_support(logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k most likely tokens of each row: (float32 logits, ids), largest first.

    The one definition of top-k in memx: the sampler draws from these tokens and exact
    extraction (memx.extraction) renormalizes over them, so a tie at the k-th logit is
    resolved the same way by both (whichever ids `torch.topk` keeps on that device)."""
    return torch.topk(logits.float(), min(k, logits.shape[-1]), dim=-1)


def sample_top_k(logits: torch.Tensor, k: int, uniforms: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Top-k sampling (the paper's k = 40, T = 1) without touching the rest of the vocabulary."""
    values, indices = top_k_support(logits, k)
    probs = torch.softmax(values / temperature, dim=-1)
    choice = inverse_cdf(probs, uniforms)
    return indices.gather(-1, choice.unsqueeze(-1)).squeeze(-1)


def sample_full(logits: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """Sampling from the full distribution of already temperature-scaled logits."""
    probs = torch.softmax(logits.float(), dim=-1)
    return inverse_cdf(probs, uniforms)


def greedy(logits: torch.Tensor) -> torch.Tensor:
    """The most likely token of each row (the first of equal maxima, as `torch.argmax` and HF's
    greedy search pick). EOS is a token like any other: the caller decides the length."""
    return logits.argmax(dim=-1)
