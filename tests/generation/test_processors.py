"""The decaying temperature really reshapes the distribution, and the inverse-CDF sampler
draws from exactly the distribution it is given (the peer bug: a warper returning scores
unchanged, which made `temperature` silently equal plain sampling)."""

from __future__ import annotations

import pytest
import torch

from memx.config import GenerationConfig
from memx.generation import DecayingTemperature, inverse_cdf, sample_full, sample_top_k, strategy_chooser


@pytest.fixture
def logits() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randn(3, 50) * 4


def _dist(proc: DecayingTemperature, step: int, logits: torch.Tensor) -> torch.Tensor:
    return torch.softmax(proc(step, logits), dim=-1)


def test_decaying_temperature_distribution_per_step(logits):
    proc = DecayingTemperature(start=10.0, end=1.0, decay_tokens=20)
    torch.testing.assert_close(_dist(proc, 0, logits), torch.softmax(logits / 10, dim=-1))
    torch.testing.assert_close(_dist(proc, 10, logits), torch.softmax(logits / 5.5, dim=-1))
    torch.testing.assert_close(_dist(proc, 19, logits), torch.softmax(logits / (10 - 9 * 19 / 20), dim=-1))
    for step in (20, 21, 255):
        torch.testing.assert_close(_dist(proc, step, logits), torch.softmax(logits, dim=-1))
    # The T=10 distribution is far flatter than T=1: a warper returning its input fails here.
    assert (_dist(proc, 0, logits) - torch.softmax(logits, dim=-1)).abs().max() > 0.1


def test_decaying_temperature_values_and_hf_call(logits):
    proc = DecayingTemperature(10.0, 1.0, 20, prompt_length=4)
    assert [proc.temperature(s) for s in (0, 5, 10, 20, 30)] == [10.0, 7.75, 5.5, 1.0, 1.0]
    input_ids = torch.zeros((3, 4), dtype=torch.long)  # HF calls with prompt only: generated token 0
    torch.testing.assert_close(proc(input_ids, logits), logits / 10)
    torch.testing.assert_close(proc(torch.zeros((3, 24), dtype=torch.long), logits), logits)
    assert DecayingTemperature(10.0, 1.0, 0).temperature(0) == 1.0
    with pytest.raises(ValueError):
        DecayingTemperature(10.0, 1.0, 20)(input_ids, logits)


def test_temperature_strategy_samples_from_the_hot_distribution():
    torch.manual_seed(1)
    logits = torch.randn(1, 8).repeat(40_000, 1) * 3
    uniforms = torch.rand(40_000)
    choose = strategy_chooser("temperature", GenerationConfig())
    for step, temperature in ((0, 10.0), (25, 1.0)):
        counts = torch.bincount(choose(step, logits, uniforms), minlength=8).float() / len(uniforms)
        torch.testing.assert_close(counts, torch.softmax(logits[0] / temperature, dim=-1), atol=0.01, rtol=0)


def test_inverse_cdf_matches_probabilities_and_skips_zero_mass():
    probs = torch.tensor([0.0, 0.5, 0.0, 0.2, 0.3, 0.0])
    uniforms = torch.linspace(0, 1 - 1e-7, 100_001)
    picks = inverse_cdf(probs.repeat(len(uniforms), 1), uniforms)
    freq = torch.bincount(picks, minlength=6).float() / len(uniforms)
    torch.testing.assert_close(freq, probs, atol=1e-4, rtol=0)
    edge = inverse_cdf(torch.tensor([[0.0, 1.0, 0.0]]), torch.tensor([0.0]))
    assert edge.tolist() == [1]


def test_top_k_only_picks_the_k_best(logits):
    uniforms = torch.rand(2000)
    many = logits[0].repeat(2000, 1)
    picks = sample_top_k(many, 5, uniforms)
    assert set(picks.tolist()) <= set(torch.topk(logits[0], 5).indices.tolist())
    assert len(set(picks.tolist())) > 1
    assert sample_full(logits, torch.zeros(3)).shape == (3,)
