"""verify_candidate_tokens: candidates verified on their samples' generated token ids only.

Over the shared fixture corpus with a real byte-level BPE: a copied `internet` prompt
(which would match in full were it searched) is ignored, a planted span in the
continuation is found with the same length as the span rule gives, the category comes
from the matched span, each distinct sample is searched once however many rows carry
it, re-verification replaces earlier columns, a sample without tokens matches nothing,
a transformers tokenizer gives the same bytes as its raw `tokenizers` backend, and a
candidate without token ids is refused.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

import memx.verify.candidates as verify_module
from memx.verify import token_byte_table, verify_candidate_tokens
from memx.verify.spans import generated_spans

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
    # the prompt is corpus text: searched with the continuation it would be memorized
    with_prompt = generated_spans([bpe.encode(prompt).ids + gen_ids], table, corpus["index"])
    assert with_prompt["match_tokens"][0] >= 20


def test_samples_table_input_dedupe_and_reverification(corpus, bpe, monkeypatch):
    table = token_byte_table(bpe)
    ids = bpe.encode(PLANTED).ids
    samples = pa.table({"sample_id": ["top_k-00000-00000", "top_k-00000-00001", "top_k-00000-00002"],
                        "token_ids": pa.array([ids, bpe.encode(NOISE).ids, []], pa.list_(pa.int32()))})
    cands = _candidates([("top_k-00000-00001", "zlib", NOISE), ("top_k-00000-00000", "zlib", PLANTED),
                         ("top_k-00000-00000", "perplexity", PLANTED), ("top_k-00000-00002", "zlib", "")])
    searched = []
    real = verify_module.generated_spans
    monkeypatch.setattr(verify_module, "generated_spans",
                        lambda token_ids, *a, **k: searched.append(len(token_ids)) or real(token_ids, *a, **k))
    once = verify_candidate_tokens(cands, samples, table, corpus["index"], 10)
    assert searched == [3]  # one batched search of the 3 distinct samples behind 4 rows
    again = verify_candidate_tokens(once, samples, table, corpus["index"], 10_000)
    assert again.column_names == once.column_names  # earlier results replaced, not doubled
    assert once.column("memorized").to_pylist() == [False, True, True, False]
    assert not any(again.column("memorized").to_pylist())  # the new threshold applies
    assert again.column("match_tokens").to_pylist() == once.column("match_tokens").to_pylist()
    assert once.column("match_tokens").to_pylist()[1:] == [len(ids), len(ids), 0]  # no tokens: no match
    assert once.column("match_text").to_pylist()[1] == PLANTED and once.column("match_text").to_pylist()[3] == ""
    assert once.schema.field("match_tokens").type == pa.int32()


def test_transformers_tokenizer_gives_the_raw_backends_bytes(bpe):
    from transformers import PreTrainedTokenizerFast

    hf = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>")
    assert token_byte_table(hf) == token_byte_table(bpe)


def test_missing_token_ids_refused(corpus, bpe):
    cands = _candidates([("top_k-00000-00007", "zlib", "x")])
    with pytest.raises(ValueError, match="top_k-00000-00007"):
        verify_candidate_tokens(cands, {}, token_byte_table(bpe), corpus["index"], 10)


def test_personal_data_lists_the_entities_inside_a_memorized_span_only(corpus, bpe):
    """The e-mail and phone of the planted span are listed at their offsets in `text`; the
    same e-mail in the prompt is not (it was given, not generated), nor anything in a
    candidate that is not memorized; a sample's rows share one list."""
    from memx.config.personal_data import PersonalDataConfig

    table = token_byte_table(bpe)
    prompt = "Write to jane.doe@example.com: "
    planted = bpe.encode(NOISE[:40]).ids + bpe.encode(PLANTED).ids
    noisy = bpe.encode(NOISE + " mail bob@mail.example.org").ids
    samples = pa.table({"sample_id": ["top_k-00000-00000", "top_k-00000-00001"],
                        "prompt_ids": pa.array([bpe.encode(prompt).ids, bpe.encode(prompt).ids], pa.list_(pa.int32())),
                        "token_ids": pa.array([planted, noisy], pa.list_(pa.int32()))})
    texts = [bpe.decode(bpe.encode(prompt).ids + ids) for ids in (planted, noisy)]
    cands = _candidates([("top_k-00000-00000", "zlib", texts[0]), ("top_k-00000-00001", "zlib", texts[1]),
                         ("top_k-00000-00000", "perplexity", texts[0])])
    out = verify_candidate_tokens(cands, samples, table, corpus["index"], 20, prompt_ids_by_sample=samples,
                                  personal_data=PersonalDataConfig())
    assert out.column("memorized").to_pylist() == [True, False, True]
    listed = out.column("personal_data").to_pylist()
    found = [(e["type"], texts[0][e["start"]:e["end"]]) for e in listed[0]]
    assert found == [("email", "jane.doe@example.com"), ("phone", "+1 (415) 555-0199")]
    assert listed[0][0]["start"] > len(prompt)  # the generated copy, not the prompt's
    assert listed[1] == [] and listed[2] == listed[0]
    only_phones = verify_candidate_tokens(cands, samples, table, corpus["index"], 20, prompt_ids_by_sample=samples,
                                          personal_data=PersonalDataConfig(types=["phone"]))
    assert [e["type"] for e in only_phones.column("personal_data").to_pylist()[0]] == ["phone"]
    assert only_phones.column_names == out.column_names
