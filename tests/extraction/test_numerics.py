"""Numerics of docs/formulas.md#extraction: log space throughout (a long suffix of tiny probability stays finite and
exact), the top-k set at a tie at the k-th logit is the sampler's own, and the (n, p) formula
1 - (1 - p)^n keeps its meaning for p near 0 and near 1."""

from __future__ import annotations

import math

import numpy as np
import torch

from memx.extraction.passes import WindowPass, suffix_scores

from memx.extraction.summary import extracted_within, log1mexp
from memx.generation.processors import sample_top_k


def test_a_long_suffix_of_tiny_probability_is_finite(tiny):
    vocab = tiny.model.config.vocab_size
    window_pass = WindowPass(tiny.model, tiny.device, top_k=vocab, temperature=1.0, batch_size=4)
    torch.manual_seed(0)
    ids = torch.randint(0, vocab, (260,))
    got = window_pass.score(ids, np.array([0, 10]), prefix_tokens=5, suffix_tokens=240)
    # a random model on random tokens: about log(1/300) a token, 240 tokens -> ~ -1370 nats, p ~ 1e-595
    assert np.isfinite(got.log_p).all() and (got.log_p < -700).all()
    with torch.inference_mode():
        logits = tiny.model(input_ids=ids[None, :245]).logits[0].double()
    direct = torch.log_softmax(logits[4:244], -1).gather(-1, ids[5:245, None]).sum().item()
    assert abs(got.log_p[0] - direct) < 1e-3  # float32 logits, float64 sum over 240 positions
    assert math.exp(got.log_p[0]) == 0.0  # the product of probabilities would have underflowed


def _tied_logits(vocab: int = 10) -> torch.Tensor:
    # largest 5.0, then three tokens tied at 3.0 (ids 2, 5, 7) for k = 2 and k = 3
    row = torch.full((vocab,), -1.0)
    row[4] = 5.0
    row[[2, 5, 7]] = 3.0
    return row


def test_ties_at_the_kth_logit_resolve_as_the_sampler_does():
    row = _tied_logits()
    for k in (2, 3):
        drawn = set(sample_top_k(row.repeat(400, 1), k, torch.linspace(0, 0.9999, 400)).tolist())
        finite = set()
        for token in range(len(row)):
            log_p, _, _ = suffix_scores(row[None, None, :], torch.tensor([[token]]), top_k=k)
            if math.isfinite(log_p.item()):
                finite.add(token)
        assert finite == drawn and len(finite) == k  # exactly the k tokens the sampler can draw
        total = sum(math.exp(suffix_scores(row[None, None, :], torch.tensor([[t]]), top_k=k)[0].item())
                    for t in finite)
        assert abs(total - 1.0) < 1e-6  # renormalized over exactly those k


def test_greedy_is_zero_or_minus_infinity_and_agrees_with_greedy_exact():
    row = _tied_logits()
    for token, expected in ((4, 0.0), (2, float("-inf"))):
        log_p, exact, accuracy = suffix_scores(row[None, None, :], torch.tensor([[token]]), top_k=None)
        assert log_p.item() == expected and exact.item() == (expected == 0.0) and accuracy.item() == float(exact)


def test_queries_formula_in_log_space():
    # p = 1e-30 within 1000 queries is 1e-27: a level just below it is reached, just above it not
    tiny_p = np.array([math.log(1e-30)])
    assert extracted_within(tiny_p, 1000, 0.999e-27)[0] and not extracted_within(tiny_p, 1000, 1.001e-27)[0]
    near_one = math.log1p(-1e-12)
    assert math.isclose(log1mexp(np.array([near_one]))[0], math.log(1e-12), rel_tol=1e-6)
    assert not extracted_within(np.array([float("-inf")]), 10**6, 1e-300)[0]
    assert extracted_within(np.array([0.0]), 1, 1.0 - 1e-16)[0]
    # p = 0.5: within 1 query 0.5, within 10 queries 1 - 2^-10
    half = np.array([math.log(0.5)])
    assert extracted_within(half, 10, 1 - 2.0**-10 - 1e-12)[0] and not extracted_within(half, 10, 1 - 2.0**-11)[0]
    assert extracted_within(half, 1, 0.5)[0] and not extracted_within(half, 1, 0.9)[0]
    assert extracted_within(half, 4, 0.9)[0]  # 1 - 1/16 >= 0.9
    # p = 1e-3 needs ln(2)/1e-3 ~ 693 queries for a coin flip
    small = np.array([math.log(1e-3)])
    assert not extracted_within(small, 692, 0.5)[0] and extracted_within(small, 693, 0.5)[0]
