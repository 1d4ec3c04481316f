"""The teacher-forced pass of docs/formulas.md#extraction: one forward pass per window and prefix length.

A window of prefix length k is fed as its k prefix tokens and the first S - 1 suffix
tokens at positions 0 … k + S - 2 (no BOS, no padding: every row of a batch has the same
k, so the same length). The last suffix token is never fed: nothing after it is
predicted, and a causal model's earlier logits cannot see it. Only the S positions that
predict the suffix are projected onto the vocabulary (`logits_to_keep`; `keep` of
`memx.gpt2_cpu`, which runs a fp32 GPT-2 on the CPU as the sampler does).

From those logits, on the model's device and in float32 chunks of bounded size:
- top-k: log q(true token) = logit/T − logsumexp over the k kept logits/T, the k tokens
  being those `memx.generation.processors.top_k_support` keeps (the sampler's own rule, so
  ties at the k-th logit resolve the same way); −inf when the true token is not kept;
- greedy: 0 when the argmax is the true token at every position, else −inf;
- `greedy_exact` (argmax = true token everywhere; the first of equal maxima, as the
  greedy sampler picks) and `token_accuracy` (share of positions where it is).
log_p is the float64 sum of the per-position log q: log space throughout, so a 50-token
suffix at p = 2^-50 is about −34.7, never an underflowed product. Only three numbers per
window leave the device. This module knows tensors and a model, not documents or shards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from memx.generation.processors import top_k_support
from memx.generation.sampler import forward_kwargs
from memx.gpt2_cpu import Gpt2Decoder, supports

_CHUNK_ELEMENTS = {"cpu": 1 << 22, "default": 1 << 28}  # float32 logits converted at once


@dataclass
class WindowScores:
    log_p: np.ndarray  # (rows,) float64, -inf when the scheme cannot produce the suffix
    greedy_exact: np.ndarray  # (rows,) bool
    token_accuracy: np.ndarray  # (rows,) float64

    @classmethod
    def empty(cls, rows: int = 0) -> "WindowScores":
        return cls(np.zeros(rows), np.zeros(rows, dtype=bool), np.zeros(rows))


def suffix_scores(logits: torch.Tensor, targets: torch.Tensor, top_k: int | None,
                  temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(log_p float64, greedy_exact bool, token_accuracy float64), each (B,), on the logits' device,
    for logits (B, S, V) predicting targets (B, S). `top_k=None` is greedy."""
    batch, steps, vocab = logits.shape
    budget = _CHUNK_ELEMENTS["cpu" if logits.device.type == "cpu" else "default"]
    rows_per_chunk = max(1, budget // max(1, steps * vocab))
    log_p = torch.empty(batch, dtype=torch.float64, device=logits.device)
    hits = torch.empty((batch, steps), dtype=torch.bool, device=logits.device)
    for first in range(0, batch, rows_per_chunk):
        rows = slice(first, first + rows_per_chunk)
        x, true = logits[rows].float(), targets[rows]
        hit = x.argmax(dim=-1) == true
        hits[rows] = hit
        if top_k is None:
            log_p[rows] = torch.where(hit.all(dim=-1), 0.0, float("-inf")).double()
            continue
        values, indices = top_k_support(x, top_k)
        scaled = values / temperature
        kept = indices == true.unsqueeze(-1)  # (b, S, k): at most one True per position
        inside = kept.any(dim=-1)
        mine = scaled.gather(-1, kept.int().argmax(dim=-1, keepdim=True)).squeeze(-1)
        log_q = torch.where(inside, mine - torch.logsumexp(scaled, dim=-1), float("-inf"))
        log_p[rows] = log_q.double().sum(dim=-1)
    return log_p, hits.all(dim=-1), hits.double().mean(dim=-1)


class WindowPass:
    """One model's forward passes over windows whose token ids are already on its device."""

    def __init__(self, model: torch.nn.Module, device: torch.device, top_k: int | None, temperature: float = 1.0,
                 batch_size: int = 64):
        self.model, self.device = model, torch.device(device)
        self.top_k, self.temperature, self.batch_size = top_k, temperature, batch_size
        _, keep = forward_kwargs(model)
        self.keep_kw, self.fast = keep, supports(model, self.device)

    def logits(self, inputs: torch.Tensor, suffix_tokens: int) -> torch.Tensor:
        """(B, S, V) logits predicting the S suffix tokens from inputs (B, k + S - 1)."""
        if self.fast:  # memx's own GPT-2 forward, as the sampler decodes on the CPU
            return Gpt2Decoder.for_model(self.model).logits(inputs, keep=suffix_tokens)
        keep = {self.keep_kw: suffix_tokens} if self.keep_kw else {}
        out = self.model(input_ids=inputs, use_cache=False, **keep).logits
        return out[:, -suffix_tokens:]

    @torch.inference_mode()
    def score(self, tokens: torch.Tensor, starts: np.ndarray, prefix_tokens: int, suffix_tokens: int) -> WindowScores:
        """Windows of one prefix length: row r is tokens[starts[r] : starts[r] + k + S] (k prefix, S suffix)."""
        n = len(starts)
        if n == 0:
            return WindowScores.empty()
        width = prefix_tokens + suffix_tokens
        span = torch.arange(width, device=self.device)
        log_p = torch.empty(n, dtype=torch.float64, device=self.device)
        exact = torch.empty(n, dtype=torch.bool, device=self.device)
        accuracy = torch.empty(n, dtype=torch.float64, device=self.device)
        starts_on_device = torch.as_tensor(np.asarray(starts, dtype=np.int64), device=self.device)
        for first in range(0, n, self.batch_size):
            rows = slice(first, first + self.batch_size)
            ids = tokens[starts_on_device[rows, None] + span]  # gathered on the device
            logits = self.logits(ids[:, :-1], suffix_tokens)
            log_p[rows], exact[rows], accuracy[rows] = suffix_scores(logits, ids[:, prefix_tokens:], self.top_k,
                                                                     self.temperature)
            del logits
        return WindowScores(log_p.cpu().numpy(), exact.cpu().numpy(), accuracy.cpu().numpy())
