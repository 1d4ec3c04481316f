"""Batched model passes: per-token log p(x_t) and, on request, Min-K%++'s μ_t and σ_t.

`token_stats` runs ONE forward pass per batch: memx's own GPT-2 forward for a fp32 GPT-2
on the CPU (`memx.gpt2_cpu`: oneDNN GEMMs and a fused GELU, about 1.4x the HF module's
speed there), else the HF module. Everything over the vocabulary (logsumexp, the gather
of the observed token, the moments of log p under p_t) is reduced on the model's device,
in float32 and in position chunks so the float32 temporaries stay small; only `[B, L]`
per-token arrays ever reach the CPU.

Conventions:
- a sequence of N ids has N-1 predicted positions (1..N-1); row i of every result holds
  them in order, right-padded with 0.0 past `lengths[i]`.
- batches are right-padded, with an attention mask, and padding is identified only by
  position — never by token id (pad == eos for GPT-2, and EOS may be a real generated
  token). Right padding keeps the default position ids of every real token correct and
  leaves no real query with a fully masked attention row.
- sequences are sorted by length (longest first, so a batch that does not fit fails
  first) and the results are returned in the caller's order.
- a sequence longer than the model's context (`memx.models.context_length`)
  is truncated to its first `context` ids; `truncated[i]` says so. Scores of such a
  sample describe that prefix only.

This module does not know about samples, texts, tokenizers or metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from memx.gpt2_cpu import Gpt2Decoder, supports
from memx.models import LoadedModel, context_length

# Float32 elements per vocabulary chunk: CPU chunks stay cache-sized, GPU chunks are large.
_CHUNK_ELEMENTS = {"cpu": 1 << 21, "default": 1 << 28}


@dataclass
class TokenStats:
    """Per-token results for n sequences, in the caller's order (float64, CPU)."""

    logp: torch.Tensor  # [n, L]: log p(x_t | x_<t) for t = 1..N-1, 0.0 past lengths
    lengths: torch.Tensor  # [n] int64: predicted positions per sequence (max(N-1, 0) after truncation)
    mu: torch.Tensor | None  # [n, L]: E_{p_t}[log p], only when moments=True
    sigma: torch.Tensor | None  # [n, L]: std_{p_t}[log p], only when moments=True
    truncated: torch.Tensor  # [n] bool: the sequence was cut to the model's context

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    def after(self, skip: torch.Tensor) -> "TokenStats":
        """The stats of predicted positions from `skip[i]` on (int64 `[n]`), shifted left to
        stay right-padded: the model conditioned on everything, the metrics see the rest.
        One gather, no per-row loop; a row left with none has length 0."""
        skip = torch.minimum(torch.as_tensor(skip, dtype=torch.int64).clamp(min=0), self.lengths)
        lengths = self.lengths - skip
        width = int(lengths.max()) if len(lengths) else 0
        at = (torch.arange(width).unsqueeze(0) + skip.unsqueeze(1)).clamp(max=max(self.logp.shape[1] - 1, 0))
        real = torch.arange(width).unsqueeze(0) < lengths.unsqueeze(1)

        def shift(values: torch.Tensor | None) -> torch.Tensor | None:
            if values is None:
                return None
            if values.shape[1] == 0:
                return values[:, :width]
            return torch.where(real, values.gather(1, at), 0.0)

        return TokenStats(logp=shift(self.logp), lengths=lengths, mu=shift(self.mu), sigma=shift(self.sigma),
                          truncated=self.truncated)

    def row(self, i: int) -> dict[str, torch.Tensor | None]:
        """The unpadded per-token arrays of sequence i."""
        n = int(self.lengths[i])
        return {
            "logp": self.logp[i, :n],
            "mu": None if self.mu is None else self.mu[i, :n],
            "sigma": None if self.sigma is None else self.sigma[i, :n],
        }


def _chunks(batch: int, steps: int, vocab: int, device: torch.device):
    """(row slice, position slice) pairs covering `[batch, steps]`, each about one budget of logits."""
    budget = _CHUNK_ELEMENTS["cpu" if device.type == "cpu" else "default"]
    positions = max(1, budget // max(vocab, 1))
    if positions >= steps:
        group = max(1, positions // max(steps, 1))
        for b0 in range(0, batch, group):
            yield slice(b0, b0 + group), slice(0, steps)
    else:
        for b in range(batch):
            for t0 in range(0, steps, positions):
                yield slice(b, b + 1), slice(t0, t0 + positions)


def reduce_logits(
    logits: torch.Tensor, targets: torch.Tensor, moments: bool
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """log p(target), μ and σ of log p for logits `[B, T, V]` and targets `[B, T]`.

    All outputs are float32 `[B, T]` on the logits' device. σ uses the centred second
    moment Σ p (log p − μ)², not E[log²p] − μ², which cancels catastrophically in float32
    for the flat distributions of small models.
    """
    batch, steps, vocab = logits.shape
    logp = torch.empty((batch, steps), dtype=torch.float32, device=logits.device)
    mu = torch.empty_like(logp) if moments else None
    sigma = torch.empty_like(logp) if moments else None
    for rows, cols in _chunks(batch, steps, vocab, logits.device):
        x = logits[rows, cols].float()
        picked = targets[rows, cols].unsqueeze(-1)
        if not moments:
            logp[rows, cols] = x.gather(-1, picked).squeeze(-1) - torch.logsumexp(x, dim=-1)
            continue
        # One fused log_softmax, one exp, and dot products over the vocabulary (no p * log p
        # temporary): the moments' cost was two exps and two products per logit before.
        full = torch.log_softmax(x, dim=-1)
        logp[rows, cols] = full.gather(-1, picked).squeeze(-1)
        p = full.exp()
        m = torch.linalg.vecdot(p, full)
        full.sub_(m.unsqueeze(-1)).square_()
        mu[rows, cols] = m
        sigma[rows, cols] = torch.linalg.vecdot(p, full).clamp_(min=0.0).sqrt_()
    return logp, mu, sigma


def pad_right(batch: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """int64 ids and attention mask `[B, T]`, right-padded; the mask alone marks padding."""
    width = max(len(s) for s in batch)
    ids = np.full((len(batch), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(batch), width), dtype=np.int64)
    for r, seq in enumerate(batch):
        ids[r, : len(seq)] = seq
        mask[r, : len(seq)] = 1
    return torch.from_numpy(ids), torch.from_numpy(mask)


def token_stats(
    lm: LoadedModel, sequences: list[list[int]], batch_size: int, *, moments: bool = False
) -> TokenStats:
    """Per-token log-probs (and μ_t, σ_t when `moments`) of each id sequence under `lm`."""
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    limit = context_length(lm)
    full_lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    kept = np.minimum(full_lengths, limit) if limit else full_lengths
    n = len(sequences)
    lengths = np.maximum(kept - 1, 0)
    width = int(lengths.max()) if n else 0
    logp = torch.zeros((n, width), dtype=torch.float64)
    mu = torch.zeros((n, width), dtype=torch.float64) if moments else None
    sigma = torch.zeros((n, width), dtype=torch.float64) if moments else None
    order = np.argsort(-kept, kind="stable")
    device = lm.device
    fast = Gpt2Decoder.for_model(lm.model) if supports(lm.model, device) else None
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size]
            if kept[index[0]] < 2:
                break  # sorted longest first: nothing left has a predicted position
            batch = [list(sequences[i][: kept[i]]) for i in index]
            ids, mask = pad_right(batch, lm.pad_id)
            ids, mask = ids.to(device), mask.to(device)
            # The last id predicts nothing, and a causal model's earlier logits cannot see it.
            if fast is not None:
                logits = fast.logits(ids[:, :-1])
            else:
                logits = lm.model(input_ids=ids[:, :-1], attention_mask=mask[:, :-1], use_cache=False).logits
            lp, m, s = reduce_logits(logits, ids[:, 1:], moments)
            del logits
            steps = lp.shape[1]
            # Positions whose target is padding hold garbage; zero them by position.
            real = mask[:, 1:].bool()
            rows = torch.from_numpy(index)
            logp[rows, :steps] = torch.where(real, lp, 0.0).double().cpu()
            if moments:
                mu[rows, :steps] = torch.where(real, m, 0.0).double().cpu()
                sigma[rows, :steps] = torch.where(real, s, 0.0).double().cpu()
    if not torch.isfinite(logp).all() or (moments and not (torch.isfinite(mu).all() and torch.isfinite(sigma).all())):
        raise FloatingPointError(f"{lm.name}: non-finite log-probabilities (check the model's dtype)")
    return TokenStats(
        logp=logp,
        lengths=torch.from_numpy(lengths),
        mu=mu,
        sigma=sigma,
        truncated=torch.from_numpy(kept < full_lengths),
    )
