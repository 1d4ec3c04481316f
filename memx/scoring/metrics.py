"""Membership metrics as pure math on per-token arrays (docs/formulas.md), higher = more memorized.

Every function takes right-padded per-token values `[B, L]` plus `lengths [B]` (how many
leading entries of each row are real), or a single 1-D array for one sample, and returns
one float64 value per row. Nothing here knows about models, tokenizers or Parquet.

Inputs are *log-probabilities* log p(x_t) of the predicted positions of a sample (positions
1..N-1 of prompt+continuation), so per-token NLL = −logp. Degenerate cases, all finite:

- no predicted position (a 0- or 1-token sequence): `mean_nll` and `window_nll` are 0.0;
  `min_k` / `min_k_plus_plus` are `NO_EVIDENCE_SCORE`; a sample whose *target* pass has
  no predicted position gets `NO_EVIDENCE_SCORE` in every score column (see score.py), so
  it ranks last instead of looking perfectly predicted.
- NLL_target == 0 (every token predicted with probability 1): divisions use
  max(NLL_target, `NLL_EPS`), so ratio/zlib/lowercase are large but finite — a
  perfectly predicted sample *is* maximally suspicious.
- a sample shorter than (or as long as) the window: the window is the whole sample.
- σ_t == 0 in Min-K%++ (p_t uniform over its support): σ_t is floored at `SIGMA_EPS`.
- min_k's k = max(1, ⌊fraction·N⌋), computed with exact rational arithmetic.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

import numpy as np
import torch

NLL_EPS = 1e-8
SIGMA_EPS = 1e-6
NO_EVIDENCE_SCORE = -1.0e9
MIN_K_FRACTION = 0.2


def _as_batch(values, lengths) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Float64 `[B, L]` values and int64 `[B]` lengths; flags a 1-D (single sample) input."""
    values = torch.as_tensor(values, dtype=torch.float64)
    single = values.dim() == 1
    if single:
        values = values.unsqueeze(0)
    if lengths is None:
        lengths = torch.full((values.shape[0],), values.shape[1], dtype=torch.int64)
    lengths = torch.as_tensor(lengths, dtype=torch.int64).reshape(-1)
    if values.dim() != 2 or lengths.shape[0] != values.shape[0]:
        raise ValueError(f"values {tuple(values.shape)} and lengths {tuple(lengths.shape)} do not match")
    if bool((lengths > values.shape[1]).any()) or bool((lengths < 0).any()):
        raise ValueError("lengths must lie in [0, values.shape[1]]")
    return values, lengths, single


def _valid(values: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    return torch.arange(values.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)


def _out(result: torch.Tensor, single: bool) -> torch.Tensor:
    return result[0] if single else result


def mean_nll(logp, lengths=None) -> torch.Tensor:
    """Mean per-token NLL = −mean(logp) over the real positions; 0.0 for an empty row."""
    values, lengths, single = _as_batch(logp, lengths)
    total = torch.where(_valid(values, lengths), values, 0.0).sum(dim=1)
    result = -total / lengths.clamp(min=1).to(torch.float64)
    return _out(result, single)


def window_nll(logp, lengths=None, window: int = 50) -> torch.Tensor:
    """min over windows of `window` consecutive tokens of the window's mean NLL.

    Rows with at most `window` real tokens use their whole mean; an empty row gives 0.0.
    """
    if window < 1:
        raise ValueError("window must be >= 1")
    values, lengths, single = _as_batch(logp, lengths)
    whole = mean_nll(values, lengths)
    if values.shape[1] <= window:
        return _out(whole, single)
    nll = torch.where(_valid(values, lengths), -values, 0.0)
    csum = torch.nn.functional.pad(nll.cumsum(dim=1), (1, 0))
    sums = csum[:, window:] - csum[:, :-window]  # sums[:, j] covers tokens j .. j+window-1
    starts = torch.arange(sums.shape[1]).unsqueeze(0)
    fits = starts + window <= lengths.unsqueeze(1)
    best = torch.where(fits, sums, torch.inf).amin(dim=1) / window
    result = torch.where(lengths > window, best, whole)
    return _out(result, single)


def min_k_count(lengths, fraction: float = MIN_K_FRACTION) -> torch.Tensor:
    """k = max(1, ⌊fraction·N⌋) per row, exact for decimal fractions such as 0.2."""
    ratio = Fraction(fraction).limit_denominator(10_000)
    lengths = torch.as_tensor(lengths, dtype=torch.int64)
    return ((lengths * ratio.numerator) // ratio.denominator).clamp(min=1)


def min_k(values, lengths=None, fraction: float = MIN_K_FRACTION) -> torch.Tensor:
    """Mean of the lowest max(1, ⌊fraction·N⌋) values of each row (Shi et al. 2023).

    Applied to token log-probs this is Min-K%; an empty row gives `NO_EVIDENCE_SCORE`.
    """
    values, lengths, single = _as_batch(values, lengths)
    if values.shape[1] == 0:
        return _out(torch.full((values.shape[0],), NO_EVIDENCE_SCORE, dtype=torch.float64), single)
    # Padding sorts last as +inf; k <= N, so the prefix sum at k-1 only ever sees real values.
    ordered = torch.where(_valid(values, lengths), values, torch.inf).sort(dim=1).values
    k = min_k_count(lengths, fraction).clamp(max=values.shape[1])
    prefix = torch.where(torch.isinf(ordered), 0.0, ordered).cumsum(dim=1)
    lowest = prefix.gather(1, (k - 1).unsqueeze(1)).squeeze(1) / k.to(torch.float64)
    result = torch.where(lengths > 0, lowest, NO_EVIDENCE_SCORE)
    return _out(result, single)


def min_k_plus_plus_z(logp, mu, sigma) -> torch.Tensor:
    """z_t = (log p(x_t) − μ_t) / max(σ_t, SIGMA_EPS), elementwise (Zhang et al. 2024)."""
    logp = torch.as_tensor(logp, dtype=torch.float64)
    mu = torch.as_tensor(mu, dtype=torch.float64)
    sigma = torch.as_tensor(sigma, dtype=torch.float64)
    return (logp - mu) / sigma.clamp(min=SIGMA_EPS)


def min_k_plus_plus(logp, mu, sigma, lengths=None, fraction: float = MIN_K_FRACTION) -> torch.Tensor:
    """Min-K% over the standardized scores z_t; an empty row gives `NO_EVIDENCE_SCORE`."""
    return min_k(min_k_plus_plus_z(logp, mu, sigma), lengths, fraction)


def _guarded(nll_target) -> torch.Tensor:
    return torch.as_tensor(nll_target, dtype=torch.float64).clamp(min=NLL_EPS)


def perplexity_score(nll_target) -> torch.Tensor:
    """−NLL_target (higher = lower perplexity = more likely memorized)."""
    return -torch.as_tensor(nll_target, dtype=torch.float64)


def ratio_score(nll_other, nll_target) -> torch.Tensor:
    """NLL_other / max(NLL_target, NLL_EPS): the reference and lowercase metrics."""
    return torch.as_tensor(nll_other, dtype=torch.float64) / _guarded(nll_target)


def zlib_score(zlib_bytes, nll_target) -> torch.Tensor:
    """len(zlib.compress(text)) / max(NLL_target, NLL_EPS)."""
    return torch.as_tensor(zlib_bytes, dtype=torch.float64) / _guarded(nll_target)


def zlib_bytes(texts: Sequence[str]) -> np.ndarray:
    """Compressed size in bytes of each text's UTF-8 encoding (zlib default level), int64."""
    return np.fromiter((len(zlib.compress(t.encode("utf-8"))) for t in texts), dtype=np.int64, count=len(texts))


@dataclass
class Evidence:
    """What one scoring pass gathered for a batch: the target's per-token log-probs (and their
    moments for Min-K%++) and whatever else the requested metrics need (memx.metrics)."""

    logp: torch.Tensor
    lengths: torch.Tensor
    nll_target: torch.Tensor
    mu: torch.Tensor | None = None
    sigma: torch.Tensor | None = None
    nll_lowercase: torch.Tensor | None = None
    zlib_bytes: torch.Tensor | None = None
    window_nll: torch.Tensor | None = None


# The formulas memx.metrics names, one per metric (ratio_<ref> is scored per reference: ratio_score).
def score_perplexity(ev: Evidence) -> torch.Tensor:
    return perplexity_score(ev.nll_target)


def score_zlib(ev: Evidence) -> torch.Tensor:
    return zlib_score(ev.zlib_bytes, ev.nll_target)


def score_lowercase(ev: Evidence) -> torch.Tensor:
    return ratio_score(ev.nll_lowercase, ev.nll_target)


def score_window(ev: Evidence) -> torch.Tensor:
    return -ev.window_nll


def score_min_k(ev: Evidence) -> torch.Tensor:
    return min_k(ev.logp, ev.lengths)


def score_min_k_plus_plus(ev: Evidence) -> torch.Tensor:
    return min_k_plus_plus(ev.logp, ev.mu, ev.sigma, ev.lengths)
