"""token_stats: one batched pass per batch, padding by position, order restored, truncation.

Every check compares against `plain_token_arrays`: one sequence, no padding, float64
log-softmax over the full vocabulary, through the HF module. Each test runs twice: through
memx's own GPT-2 forward (`memx.gpt2_cpu`, what a fp32 GPT-2 on the CPU takes) and
through the HF module (what every other model takes).
"""

from __future__ import annotations

import random

import pytest
import torch

from memx.scoring import passes
from memx.models import context_length
from memx.scoring.passes import token_stats
from tests.scoring.scoring_fixtures import TARGET_CONTEXT, plain_token_arrays


@pytest.fixture(autouse=True, params=["gpt2_cpu", "hf"])
def forward(request, monkeypatch):
    """Which forward token_stats takes; counts the batches memx's own GPT-2 forward ran."""
    calls = []
    if request.param == "hf":
        monkeypatch.setattr(passes, "supports", lambda model, device: False)
    else:
        real = passes.Gpt2Decoder.logits
        monkeypatch.setattr(passes.Gpt2Decoder, "logits", lambda self, ids: calls.append(ids.shape) or real(self, ids))
    return request.param, calls


def _random_sequences(lm, lengths, seed=0):
    rng = random.Random(seed)
    vocab = len(lm.tokenizer)
    return [[lm.bos_id] + [rng.randrange(vocab) for _ in range(n - 1)] if n else [] for n in lengths]


def _assert_matches_plain(lm, sequences, stats, moments=True, tol=1e-4):
    for i, seq in enumerate(sequences):
        want = plain_token_arrays(lm, seq[:TARGET_CONTEXT] if context_length(lm) == TARGET_CONTEXT else seq)
        got = stats.row(i)
        assert int(stats.lengths[i]) == want["logp"].shape[0]
        torch.testing.assert_close(got["logp"], want["logp"], atol=tol, rtol=0)
        if moments:
            torch.testing.assert_close(got["mu"], want["mu"], atol=tol, rtol=0)
            torch.testing.assert_close(got["sigma"], want["sigma"], atol=tol, rtol=0)


def test_shapes_never_carry_the_vocabulary(target):
    seqs = _random_sequences(target, [5, 9, 2])
    stats = token_stats(target, seqs, batch_size=2, moments=True)
    vocab = len(target.tokenizer)
    for tensor in (stats.logp, stats.mu, stats.sigma):
        assert tensor.shape == (3, 8) and vocab not in tensor.shape
        assert tensor.dtype == torch.float64 and tensor.device.type == "cpu"
    assert stats.lengths.tolist() == [4, 8, 1]
    assert token_stats(target, seqs, batch_size=2).mu is None


def test_padded_batches_match_one_at_a_time(target, forward):
    # Mixed lengths shuffled, so batches are padded and the sort must be undone.
    lengths = [17, 3, 40, 2, 25, 9, 33, 12]
    seqs = _random_sequences(target, lengths, seed=1)
    stats = token_stats(target, seqs, batch_size=3, moments=True)
    _assert_matches_plain(target, seqs, stats)
    path, calls = forward
    # memx's forward took every batch, fed without its last id (which predicts nothing)
    assert calls == ([(3, 39), (3, 16), (2, 2)] if path == "gpt2_cpu" else [])
    # Padded positions are zero, never model output.
    assert stats.logp[1, 2:].abs().sum() == 0 and stats.sigma[3, 1:].abs().sum() == 0


def test_eos_inside_a_sequence_is_a_real_token(target):
    eos = target.tokenizer.eos_token_id
    assert eos == target.pad_id  # the trap: pad == eos
    seqs = _random_sequences(target, [20, 8], seed=2)
    seqs[0][5] = seqs[0][6] = eos
    seqs[0][-1] = eos  # a trailing EOS too: it must still be predicted, not taken for padding
    stats = token_stats(target, seqs, batch_size=2, moments=True)
    assert stats.lengths.tolist() == [19, 7]
    _assert_matches_plain(target, seqs, stats)
    assert stats.logp[0, 4] != 0 and stats.logp[0, 18] != 0


def test_empty_and_one_token_sequences(target):
    seqs = [[], [target.bos_id], *_random_sequences(target, [6], seed=3)]
    stats = token_stats(target, seqs, batch_size=2, moments=True)
    assert stats.lengths.tolist() == [0, 1 - 1, 5]
    assert stats.logp[:2].abs().sum() == 0
    _assert_matches_plain(target, seqs, stats)
    none = token_stats(target, [[], [1]], batch_size=4)
    assert none.logp.shape == (2, 0)
    assert token_stats(target, [], batch_size=4).logp.shape == (0, 0)


def test_truncates_to_the_context(target):
    assert context_length(target) == TARGET_CONTEXT
    seqs = _random_sequences(target, [TARGET_CONTEXT + 30, 10], seed=4)
    stats = token_stats(target, seqs, batch_size=2)
    assert stats.lengths.tolist() == [TARGET_CONTEXT - 1, 9]
    assert stats.truncated.tolist() == [True, False]
    _assert_matches_plain(target, seqs, stats, moments=False)


def test_small_chunks_give_the_same_numbers(target, monkeypatch):
    # Force the within-row position chunking used for big vocabularies.
    seqs = _random_sequences(target, [30, 11, 21], seed=5)
    whole = token_stats(target, seqs, batch_size=3, moments=True)
    monkeypatch.setitem(passes._CHUNK_ELEMENTS, "cpu", len(target.tokenizer) * 4)
    chunked = token_stats(target, seqs, batch_size=3, moments=True)
    for a, b in ((whole.logp, chunked.logp), (whole.mu, chunked.mu), (whole.sigma, chunked.sigma)):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_batch_size_must_be_positive(target):
    with pytest.raises(ValueError):
        token_stats(target, [[1, 2]], batch_size=0)
