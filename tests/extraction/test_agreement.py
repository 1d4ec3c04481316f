"""Exact agrees with sampling, on the lab's trained xl and its planted canaries (docs/formulas.md#extraction vs docs/formulas.md#prefix):

- for canary windows with 0.05 < p_z < 0.95, the `prefix` strategy's top-k sampling (its own
  chooser and KV-cached sampler, 400 draws per sequence) reproduces the true suffix at an
  empirical rate within 4 binomial standard errors of p_z for at least 95% of them;
- greedy_exact equals the greedy `prefix` strategy's `exact` (its greedy completion) on the
  same sequences.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from memx.config import GenerationConfig
from memx.extraction.documents import encode_with_offsets
from memx.extraction.passes import WindowPass
from memx.extraction.shard import score_documents
from memx.generation.sampler import greedy_complete, sample_batch
from memx.generation.shard import strategy_chooser
from tests.extraction.helpers import extraction_config

DRAWS = 400
pytestmark = pytest.mark.slow


def _canary_windows(lab_dir, lm, prefix: int, suffix: int):
    """(prefix + suffix ids, log_p, greedy_exact) of every stride-1 window whose suffix overlaps
    a planted canary's secret, over training documents holding canaries."""
    lab = Path(lab_dir)
    canaries = pq.read_table(lab / "canaries.parquet").to_pylist()
    texts = [json.loads(line)["text"] for line in (lab / "corpus" / "train.jsonl").read_text().splitlines()]
    docs, secrets = [], []
    for text in texts:
        spans = [(text.index(c["text"]) + len(c["prefix"]), text.index(c["text"]) + len(c["text"]))
                 for c in canaries if c["text"] in text]
        if spans:
            docs.append(text)
            secrets.append(spans)
        if len(docs) == 24:
            break
    tokenized = encode_with_offsets(lm.tokenizer, docs)
    config = extraction_config(lm.name, "/unused", source="s", prefix_tokens=[prefix], suffix_tokens=suffix,
                               stride_tokens=1, decoding={"top_k": 40}).extraction
    window_pass = WindowPass(lm.model, lm.device, 40, 1.0, batch_size=64)
    windows, scores, _ = score_documents(window_pass, tokenized, config)
    keep = [i for i in range(len(windows)) if any(windows.char_start[i] < b and windows.char_end[i] > a
                                                  for a, b in secrets[windows.document[i]])]
    ids = [tokenized[windows.document[i]].ids[windows.offset[i] - prefix: windows.offset[i] + suffix].tolist()
           for i in keep]
    return ids, scores.log_p[keep], scores.greedy_exact[keep]


def _lengths(lm):
    context = lm.model.config.n_positions
    return min(32, context // 4), min(16, context // 4)


@pytest.fixture(scope="module")
def canary_windows(lab_dir, lab_xl):
    """The canary windows and their exact scores, computed once for both tests."""
    return _canary_windows(lab_dir, lab_xl, *_lengths(lab_xl))


def test_exact_probability_agrees_with_sampling(canary_windows, lab_xl):
    prefix, suffix = _lengths(lab_xl)
    ids, log_p, _ = canary_windows
    p = np.exp(log_p)
    middle = np.flatnonzero((p > 0.05) & (p < 0.95))
    assert len(middle) >= 10, f"only {len(middle)} canary windows with 0.05 < p_z < 0.95"
    chosen = np.random.default_rng(0).choice(middle, size=min(40, len(middle)), replace=False)
    gen = GenerationConfig(strategies=["prefix"], prefix={"source": "s", "prefix_tokens": prefix,
                                                          "suffix_tokens": suffix, "decoding": "top_k", "draws": DRAWS})
    choose = strategy_chooser("prefix", gen)
    generator = torch.Generator().manual_seed(0)
    within = 0
    for i in chosen:
        prompts = [ids[i][:prefix]] * DRAWS
        uniforms = torch.rand((DRAWS, suffix), generator=generator)
        tokens = sample_batch(lab_xl.model, prompts, lab_xl.pad_id, suffix, uniforms, choose, lab_xl.device)
        rate = float((tokens == np.asarray(ids[i][prefix:])).all(axis=1).mean())
        error = math.sqrt(p[i] * (1 - p[i]) / DRAWS)
        within += abs(rate - p[i]) <= 4 * error
    share = within / len(chosen)
    print(f"exact vs sampling: {within} of {len(chosen)} canary windows ({100 * share:.1f}%) within 4 binomial "
          f"standard errors of p_z ({DRAWS} draws each)")
    assert share >= 0.95


def test_greedy_exact_equals_the_greedy_prefix_strategy(canary_windows, lab_xl):
    prefix, suffix = _lengths(lab_xl)
    ids, _, exact = canary_windows
    continuations = greedy_complete(lab_xl.model, [w[:prefix] for w in ids], lab_xl.pad_id, suffix, lab_xl.device)
    greedy = (continuations == np.asarray([w[prefix:] for w in ids])).all(axis=1)
    assert exact.any() and (~exact).any(), "the canary windows should hold both outcomes"
    assert (greedy == exact).all(), f"{int((greedy != exact).sum())} of {len(ids)} windows disagree"
