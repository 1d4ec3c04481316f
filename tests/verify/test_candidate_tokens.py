"""verify_candidate_tokens: candidates verified on their samples' generated token ids only.

Over the shared fixture corpus with a real byte-level BPE: a copied `internet` prompt
that the text-based check counts is ignored, a planted span in the continuation is
found with the same length as the span rule gives, the category comes from the matched
span, repeated sample_ids agree, and a candidate without token ids is refused.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from memx.verify import token_byte_table, verify_candidates
from memx.verify.spans import generated_spans
from memx.verify.verify import verify_candidate_tokens

from .conftest import PLANTED

NOISE = "qwxz vbnm plok zzyx qqq jjkk wvwv xxq pplk zqzq mnbv " * 3  # never in the corpus


@pytest.fixture(scope="module")
def bpe(corpus):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(corpus["docs"], trainer)
    return tok


def _candidates(rows):
    n = len(rows)
    return pa.table({"sample_id": [r[0] for r in rows], "strategy": ["internet"] * n,
                     "metric": [r[1] for r in rows], "rank": pa.array(range(1, n + 1), pa.int32()),
                     "score": [1.0] * n, "text": [r[2] for r in rows]})


def test_prompt_never_counts_and_planted_continuation_does(corpus, bpe):
    table = token_byte_table(bpe)  # a raw tokenizers.Tokenizer works as well as a transformers one
    eos = bpe.token_to_id("<|endoftext|>")
    assert table[eos] is None
    prompt = PLANTED  # copied from the corpus, as an `internet` prompt may be
    gen_ids = bpe.encode(NOISE).ids
    planted_ids = bpe.encode(NOISE[:40]).ids + bpe.encode(PLANTED).ids + [eos] + bpe.encode(NOISE[:30]).ids
    samples = {"internet-00000-00000": gen_ids, "internet-00000-00001": planted_ids}
    cands = _candidates([
        ("internet-00000-00000", "zlib", prompt + NOISE),
        ("internet-00000-00001", "zlib", NOISE[:40] + PLANTED + NOISE[:30]),
        ("internet-00000-00001", "perplexity", NOISE[:40] + PLANTED + NOISE[:30]),
    ])
    out = verify_candidate_tokens(cands, samples, table, corpus["index"], 20)
    n = out.column("match_tokens").to_pylist()
    spans = generated_spans([gen_ids, planted_ids], table, corpus["index"])
    assert n == [spans["match_tokens"][0], spans["match_tokens"][1], spans["match_tokens"][1]]
    assert out.column("memorized").to_pylist() == [False, True, True]
    assert n[0] < 5 and n[1] >= len(bpe.encode(PLANTED).ids) - 2
    # the span holds the e-mail and phone of PLANTED: contact, not the noise's category
    assert out.column("category").to_pylist()[1:] == ["contact", "contact"]
    # the text-based check cannot tell prompt from continuation: it counts the prompt
    by_text = verify_candidates(cands.slice(0, 1), corpus["index"], bpe, 20)
    assert by_text.column("memorized").to_pylist() == [True]


def test_samples_table_input_and_reverification(corpus, bpe):
    table = token_byte_table(bpe)
    ids = bpe.encode(PLANTED).ids
    samples = pa.table({"sample_id": ["top_k-00000-00000", "top_k-00000-00001"],
                        "token_ids": pa.array([ids, bpe.encode(NOISE).ids], pa.list_(pa.int32()))})
    cands = _candidates([("top_k-00000-00001", "zlib", NOISE), ("top_k-00000-00000", "zlib", PLANTED)])
    once = verify_candidate_tokens(cands, samples, table, corpus["index"], 10)
    twice = verify_candidate_tokens(once, samples, table, corpus["index"], 10)
    assert twice.column_names == once.column_names  # earlier results replaced, not doubled
    assert twice.column("memorized").to_pylist() == [False, True]
    assert twice.column("match_tokens").to_pylist()[1] == len(ids)
    assert twice.schema.field("match_tokens").type == pa.int32()


def test_missing_token_ids_refused(corpus, bpe):
    cands = _candidates([("top_k-00000-00007", "zlib", "x")])
    with pytest.raises(ValueError, match="top_k-00000-00007"):
        verify_candidate_tokens(cands, {}, token_byte_table(bpe), corpus["index"], 10)
