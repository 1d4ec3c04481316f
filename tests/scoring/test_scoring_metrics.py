"""The pure metrics on tiny hand-made per-token arrays, against arithmetic done by hand.

Inputs are log-probabilities; NLL_t = −logp_t. Each expected value is worked out in the
comment above its assertion. Also: the degenerate cases documented in metrics.py.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest
import torch

from memx.scoring import metrics as M

LOGP = [-1.0, -3.0, -2.0, -6.0, -0.5]  # NLLs 1, 3, 2, 6, 0.5


def test_mean_nll_by_hand():
    # (1 + 3 + 2 + 6 + 0.5) / 5 = 12.5 / 5 = 2.5
    assert float(M.mean_nll(LOGP)) == pytest.approx(2.5)


def test_window_uses_per_token_nll_of_the_text():
    # window 2: means (1+3)/2=2, (3+2)/2=2.5, (2+6)/2=4, (6+0.5)/2=3.25 -> min 2.0
    assert float(M.window_nll(LOGP, window=2)) == pytest.approx(2.0)
    # window 3: (1+3+2)/3=2, (3+2+6)/3=11/3, (2+6+0.5)/3=8.5/3≈2.833 -> min 2.0
    assert float(M.window_nll(LOGP, window=3)) == pytest.approx(2.0)
    # window 4: (1+3+2+6)/4=3, (3+2+6+0.5)/4=2.875 -> min 2.875
    assert float(M.window_nll(LOGP, window=4)) == pytest.approx(2.875)


def test_window_longer_than_sample_is_the_whole_sample():
    # window 5 == N and window 50 > N: the whole mean, 2.5
    assert float(M.window_nll(LOGP, window=5)) == pytest.approx(2.5)
    assert float(M.window_nll(LOGP, window=50)) == pytest.approx(2.5)


def test_window_batched_rows_with_padding():
    # row 0 = LOGP; row 1 = [-4, -1] padded with garbage that must be ignored.
    values = torch.tensor([LOGP, [-4.0, -1.0, -100.0, -100.0, -100.0]])
    lengths = torch.tensor([5, 2])
    # row 0, window 2 -> 2.0 (above); row 1 has N=2 <= 2 -> whole mean (4+1)/2 = 2.5
    got = M.window_nll(values, lengths, window=2)
    assert got.tolist() == pytest.approx([2.0, 2.5])
    # window 1 -> min single NLL: row 0 0.5, row 1 1.0 (padding's 100s never counted)
    assert M.window_nll(values, lengths, window=1).tolist() == pytest.approx([0.5, 1.0])


def test_min_k_by_hand():
    # N=5: k = max(1, floor(0.2*5)) = 1 -> lowest logp = -6
    assert float(M.min_k(LOGP)) == pytest.approx(-6.0)
    # N=10: k = 2 -> lowest two of 0..-9 are -9, -8 -> mean -8.5
    assert float(M.min_k([-float(i) for i in range(10)])) == pytest.approx(-8.5)
    # N=4: floor(0.8) = 0 -> k = 1 -> min = -3
    assert float(M.min_k([-1.0, -3.0, -2.0, -0.1])) == pytest.approx(-3.0)


def test_min_k_count_is_exact():
    # floor(0.2*N) computed exactly: 4->0->1, 5->1, 9->1, 10->2, 15->3, 35->7, 256->51
    got = M.min_k_count(torch.tensor([0, 1, 4, 5, 9, 10, 15, 35, 256])).tolist()
    assert got == [1, 1, 1, 1, 1, 2, 3, 7, 51]


def test_min_k_batched_ignores_padding():
    values = torch.tensor([[-1.0, -2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                           [-float(i) for i in range(10)]])
    # row 0: N=2, k=1 -> -2 (the 0.0 padding is not a log-prob); row 1: -8.5 as above
    assert M.min_k(values, torch.tensor([2, 10])).tolist() == pytest.approx([-2.0, -8.5])


def test_min_k_plus_plus_by_hand():
    logp = [-1.0, -4.0, -2.0, -3.0, -2.0]
    mu = [-2.0, -2.0, -3.0, -1.0, -2.0]
    sigma = [0.5, 1.0, 2.0, 1.0, 0.0]
    # z = (logp-mu)/sigma: (1)/0.5=2, (-2)/1=-2, (1)/2=0.5, (-2)/1=-2, 0/SIGMA_EPS=0
    z = M.min_k_plus_plus_z(logp, mu, sigma)
    assert z.tolist() == pytest.approx([2.0, -2.0, 0.5, -2.0, 0.0])
    # N=5, k=1 -> min z = -2
    assert float(M.min_k_plus_plus(logp, mu, sigma)) == pytest.approx(-2.0)


def test_min_k_plus_plus_zero_sigma_is_finite():
    # σ=0 with logp != μ: (−1 − (−2)) / 1e-6 = 1e6, finite
    z = M.min_k_plus_plus_z([-1.0], [-2.0], [0.0])
    assert float(z) == pytest.approx(1.0 / M.SIGMA_EPS)


def test_ratio_zlib_lowercase_perplexity_by_hand():
    # ratio = 3.0 / 1.5 = 2; perplexity = -1.5
    assert float(M.ratio_score(3.0, 1.5)) == pytest.approx(2.0)
    assert float(M.perplexity_score(1.5)) == pytest.approx(-1.5)
    # zlib: "aaaa…" (100 a's) compresses to a fixed size; score = size / 2
    size = len(zlib.compress(b"a" * 100))
    assert M.zlib_bytes(["a" * 100]).tolist() == [size]
    assert float(M.zlib_score(size, 2.0)) == pytest.approx(size / 2)


def test_zlib_counts_utf8_bytes():
    text = "é€😀"  # 2 + 3 + 4 UTF-8 bytes
    assert M.zlib_bytes([text])[0] == len(zlib.compress(text.encode("utf-8")))
    assert M.zlib_bytes([]).dtype == np.int64


def test_zero_nll_target_is_guarded():
    # NLL_target = 0 -> divide by NLL_EPS = 1e-8: 2 / 1e-8 = 2e8, finite
    assert float(M.ratio_score(2.0, 0.0)) == pytest.approx(2.0 / M.NLL_EPS)
    assert math.isfinite(float(M.zlib_score(30, 0.0)))


def test_empty_rows_have_defined_values():
    empty = torch.zeros((2, 0))
    lengths = torch.tensor([0, 0])
    assert M.mean_nll(empty, lengths).tolist() == [0.0, 0.0]
    assert M.window_nll(empty, lengths, window=50).tolist() == [0.0, 0.0]
    assert M.min_k(empty, lengths).tolist() == [M.NO_EVIDENCE_SCORE] * 2
    # an empty row inside a non-empty batch
    values = torch.tensor([[-1.0, -2.0], [0.0, 0.0]])
    assert M.min_k(values, torch.tensor([2, 0])).tolist() == [-2.0, M.NO_EVIDENCE_SCORE]
    assert M.mean_nll(values, torch.tensor([2, 0])).tolist() == [1.5, 0.0]
    assert M.window_nll(values, torch.tensor([2, 0]), window=1).tolist() == [1.0, 0.0]


def test_one_token_row():
    # N=1: mean = window = that token's NLL (2); min_k k=1 -> -2
    assert float(M.mean_nll([-2.0])) == 2.0
    assert float(M.window_nll([-2.0], window=50)) == 2.0
    assert float(M.min_k([-2.0])) == -2.0


def test_bad_lengths_rejected():
    with pytest.raises(ValueError):
        M.mean_nll(torch.zeros((1, 2)), torch.tensor([3]))
    with pytest.raises(ValueError):
        M.window_nll(LOGP, window=0)
