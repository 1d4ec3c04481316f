"""Scores of prefix rows: exact / match_prefix_tokens / token_accuracy on hand-made rows,
score_samples adding them beside the membership metrics, and sequence_count from a real
byte-level index against a plain bytes.count of the corpus."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from memx.config import ScoringConfig
from memx.index import build_index
from memx.verify.byteindex import CorpusIndex
from memx.scoring import SequenceCounter, extraction_scores, score_columns, score_samples, sequence_counts
from memx.verify.tokenbytes import token_byte_table


def test_extraction_scores_on_hand_rows():
    target = [[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4], [5, 6, 7, 8], [9, 9], [4, 4, 4]]
    tokens = [[1, 2, 3, 4], [1, 2, 9, 4], [0, 2, 3, 4], [5, 6, 7, 8], [9], [4, 4, 4, 4]]
    got = extraction_scores(pa.array(tokens, pa.list_(pa.int32())), target)
    assert got["exact"].tolist() == [True, False, False, True, False, False]
    assert got["match_prefix_tokens"].tolist() == [4, 2, 0, 4, 1, 3]
    assert got["match_prefix_tokens"].dtype == np.int32
    # share of the suffix's positions that are right (a missing token is wrong, an extra one
    # cannot make up for it)
    assert got["token_accuracy"].tolist() == [1.0, 0.75, 0.75, 1.0, 0.5, 1.0]
    assert got["token_accuracy"].dtype == np.float64 and got["exact"].dtype == bool


def test_extraction_scores_of_an_empty_shard():
    got = extraction_scores(pa.array([], pa.list_(pa.int32())), pa.array([], pa.list_(pa.int32())))
    assert all(len(v) == 0 for v in got.values())


def _prefix_samples(lm, texts: list[str], prefix: int, right: list[bool]) -> pa.Table:
    """Prefix rows cut from `texts`: continuation = the true suffix where `right`, else corrupted."""
    prompts, targets, tokens = [], [], []
    for text, ok in zip(texts, right):
        ids = lm.tokenizer(text, add_special_tokens=False)["input_ids"]
        prompts.append(ids[:prefix])
        targets.append(ids[prefix:])
        tokens.append(ids[prefix:] if ok else ids[prefix:-1] + [lm.tokenizer.eos_token_id])
    return pa.table({
        "sample_id": [f"prefix-00000-{i:05d}" for i in range(len(texts))],
        "prompt_ids": pa.array(prompts, pa.list_(pa.int32())),
        "token_ids": pa.array(tokens, pa.list_(pa.int32())),
        "text": [lm.tokenizer.decode(p + t, skip_special_tokens=True) for p, t in zip(prompts, tokens)],
        "target_ids": pa.array(targets, pa.list_(pa.int32())),
        "sequence_id": [f"{i}:0" for i in range(len(texts))],
    })


CORPUS = ["the river window letter engine market island paper voice",
          "golden hidden narrow build carry follow measure listen remember",
          "the river window letter engine market island paper voice"]  # a duplicated document


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    root = tmp_path_factory.mktemp("prefix-index")
    (root / "corpus.txt").write_text("\n".join(CORPUS) + "\n")
    build_index([root / "corpus.txt"], root / "index", progress=False)
    return CorpusIndex(root / "index")


def test_score_samples_adds_extraction_columns_to_prefix_rows(target, index):
    texts = CORPUS[:2] + ["the river window letter a b c golden"]
    samples = _prefix_samples(target, texts, prefix=3, right=[True, False, True])
    metrics = ["perplexity", "zlib"]
    plain = score_samples(samples.drop(["target_ids"]), target, {}, ScoringConfig(batch_size=2), metrics)
    scored = score_samples(samples, target, {}, ScoringConfig(batch_size=2), metrics)
    assert scored.schema.names == [n for n, _ in score_columns(metrics, prefix=True)]
    assert scored.select(plain.column_names).equals(plain)  # membership metrics unchanged
    assert scored.column("exact").to_pylist() == [True, False, True]
    assert scored.schema.field("match_prefix_tokens").type == pa.int32()
    counted = score_samples(samples, target, {}, ScoringConfig(batch_size=2), metrics,
                            sequence_counter=SequenceCounter(target.tokenizer, index))
    assert counted.schema.names == [n for n, _ in score_columns(metrics, prefix=True, sequence_count=True)]
    assert counted.column("sequence_count").to_pylist() == [2, 1, 0]


def test_other_strategies_get_no_extraction_columns(target):
    samples = _prefix_samples(target, CORPUS[:2], prefix=3, right=[True, True])
    nulls = samples.set_column(4, "target_ids", pa.nulls(2, pa.list_(pa.int32())))
    assert "exact" not in score_samples(nulls, target, {}, ScoringConfig(), ["perplexity"]).column_names


def test_sequence_counts_match_a_plain_byte_count(target, index):
    """prefix + suffix bytes, never decoded text; special tokens contribute no bytes."""
    corpus = ("\n".join(CORPUS) + "\n").encode()
    tok = target.tokenizer
    rows = [tok(t, add_special_tokens=False)["input_ids"] for t in
            ["the river window", " letter engine", "hidden narrow build", "voice", "river window letter engine"]]
    prompts = [rows[0], rows[2], rows[3], [], rows[4]]
    targets = [rows[1], [tok.eos_token_id], [], [], rows[1][:1]]
    table = token_byte_table(tok)
    expected = []
    for p, t in zip(prompts, targets):
        data = b"".join(table[i] or b"" for i in p + t)
        expected.append(sum(corpus[i:].startswith(data) for i in range(len(corpus))) if data else 0)
    got = sequence_counts(prompts, targets, table, index)
    assert got.dtype == np.int64 and got.tolist() == expected
    assert expected[0] == 2 and expected[1] == 1  # the duplicated document, and EOS adding nothing
