"""log_p, greedy_exact and token_accuracy of every window equal an independent computation: a
plain HF forward of prefix + suffix, log-softmax of logits / T, the top-k kept by a full sort,
renormalized and summed over the suffix (abs. error <= 1e-4 nats), for several documents,
prefix lengths and strides, windows at a document's very start and end included."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from memx.extraction.documents import encode_with_offsets

from memx.extraction.passes import WindowPass

from memx.extraction.shard import extraction_rows
from tests.extraction.helpers import extraction_config, independent_log_p

TOLERANCE = 1e-4


def _check_rows(lm, texts, *, prefix_tokens, suffix_tokens, stride_tokens, decoding, batch_size=5, need_end=True):
    config = extraction_config(lm.name, "/unused", source="s", prefix_tokens=prefix_tokens,
                               suffix_tokens=suffix_tokens, stride_tokens=stride_tokens, decoding=decoding,
                               batch_size=batch_size).extraction
    window_pass = WindowPass(lm.model, lm.device, config.decoding.k, config.decoding.t, config.batch_size)
    documents = np.arange(100, 100 + len(texts))
    rows, stats = extraction_rows(window_pass, lm.tokenizer, texts, documents, [f"d{i}" for i in documents], config)
    docs = encode_with_offsets(lm.tokenizer, texts)
    assert stats.tokens == [len(d.ids) for d in docs] and stats.chars == [len(t) for t in texts]
    assert rows.num_rows > 0
    at_start = at_end = finite = 0
    for row in rows.to_pylist():
        ids = docs[row["document"] - 100].ids.tolist()
        k, o = row["prefix_tokens"], row["offset"]
        window = ids[o - k: o + suffix_tokens]
        assert len(window) == k + suffix_tokens  # inside its own document
        expected = independent_log_p(lm.model, window, k, config.decoding.k, config.decoding.t)
        if math.isinf(expected):
            assert row["log_p"] == float("-inf")
        else:
            finite += 1
            assert abs(row["log_p"] - expected) <= TOLERANCE, (row, expected)
        with torch.inference_mode():
            argmax = lm.model(input_ids=torch.tensor([window])).logits[0, k - 1:-1].argmax(-1).tolist()
        hits = [a == t for a, t in zip(argmax, window[k:])]
        assert row["greedy_exact"] == all(hits)
        assert row["token_accuracy"] == pytest.approx(sum(hits) / suffix_tokens)
        at_start += o == k
        at_end += o + suffix_tokens == len(ids)
    # o == k: the prefix is the document's first token on; o + S == length: the suffix is its last
    assert at_start and (at_end or not need_end), "the windows must include a document's very start and end"
    return rows, finite


@pytest.mark.parametrize("decoding", [{"top_k": 300, "temperature": 0.7}, {"top_k": 40}, {"greedy": True}])
def test_log_p_equals_an_independent_forward_tiny(tiny, decoding):
    texts = ["the river and the window of the market " * 3, "golden hidden narrow build carry follow " * 2,
             "Winter station morning paper voice. " * 4]
    # lengths chosen so that some document ends exactly at a suffix for each stride
    rows, finite = _check_rows(tiny, texts, prefix_tokens=[3, 8], suffix_tokens=6, stride_tokens=1,
                               decoding=decoding)
    if "top_k" in decoding and decoding["top_k"] == 300:  # the whole vocabulary: every window has a probability
        assert finite == rows.num_rows


@pytest.mark.slow
@pytest.mark.parametrize("stride, prefix_tokens", [(1, [1, 14]), (7, [7, 14])])
def test_log_p_equals_an_independent_forward_lab_xl(lab_xl, lab_dir, stride, prefix_tokens):
    lines = (Path(lab_dir) / "corpus" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    # the first 400 characters of three training documents, each tokenized whole as its own document
    picked = [json.loads(line)["text"][:400] for line in lines[:3]]
    rows, finite = _check_rows(lab_xl, picked, prefix_tokens=prefix_tokens, suffix_tokens=16, stride_tokens=stride,
                               decoding={"top_k": 40}, need_end=stride == 1)
    assert finite > 0  # a trained model gives its own training text a probability
