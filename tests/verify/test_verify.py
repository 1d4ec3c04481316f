"""verify_candidates: spans measured in whole tokens, planted strings found, absent text
not memorized, one verification per distinct text, and agreement with a brute-force
search of the corpus over token boundaries."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from memx.verify import longest_token_span, token_offsets, verify_candidates

from .conftest import PLANTED

SEP = "\uffff"


def _table(texts, metrics=None):
    n = len(texts)
    return pa.table({
        "sample_id": [f"top_k-00000-{i:05d}" for i in range(n)],
        "strategy": ["top_k"] * n, "metric": metrics or ["zlib"] * n,
        "rank": pa.array(range(1, n + 1), pa.int32()), "score": [float(-i) for i in range(n)],
        "text": texts, "duplicates": pa.array([1] * n, pa.int32()),
    })


@pytest.fixture(scope="module")
def bpe(corpus):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(corpus["docs"], trainer)
    return tok


def _brute_tokens(hay: str, text: str, offsets) -> int:
    spans = [(s, e) for s, e in offsets if e > s]
    best = 0
    for k in range(len(spans)):
        for m in range(len(spans), k + best, -1):
            if text[spans[k][0]:spans[m - 1][1]] in hay:
                best = m - k
                break
    return best


def test_planted_found_with_span(corpus, bpe):
    text = "qq zz " + PLANTED + " zz qq"
    offs = token_offsets([text], bpe)[0]
    n, s, e = longest_token_span(text, offs, corpus["index"])
    inner = len(bpe.encode(PLANTED).ids)
    assert inner - 2 <= n <= inner + 2
    assert PLANTED[5:-5] in text[s:e]
    out = verify_candidates(_table([text, "nothing like this is in there"]), corpus["index"], bpe, 20)
    assert out.column("memorized").to_pylist() == [True, False]
    assert out.column("category").to_pylist()[0] == "contact"
    assert out.column("match_tokens").type == pa.int32()


def test_absent_not_memorized(corpus, bpe):
    out = verify_candidates(_table(["\u0416" * 300, ""]), corpus["index"], bpe, 1)
    assert out.column("match_tokens").to_pylist() == [0, 0]
    assert out.column("memorized").to_pylist() == [False, False]


def test_dedupe_and_reverify(corpus, bpe, monkeypatch):
    import memx.verify.verify as v

    calls = []
    real = v._longest_spans
    monkeypatch.setattr(v, "_longest_spans", lambda texts, *a: calls.append(len(texts)) or real(texts, *a))
    t = _table([PLANTED, PLANTED, "other text"], metrics=["zlib", "perplexity", "zlib"])
    out = verify_candidates(t, corpus["index"], bpe, 10)
    assert sum(calls) == 2
    again = verify_candidates(out, corpus["index"], bpe, 10_000)
    assert again.num_columns == out.num_columns
    assert not any(again.column("memorized").to_pylist())
    assert again.column("match_tokens").to_pylist() == out.column("match_tokens").to_pylist()


@pytest.mark.parametrize("tokenizer", ["bpe", None])
def test_agrees_with_brute_force(corpus, bpe, tokenizer):
    tok = bpe if tokenizer == "bpe" else None
    docs = corpus["docs"]
    hay = SEP.join(docs)
    rng = random.Random(5)
    texts = []
    for _ in range(150):
        doc = rng.choice(docs)
        a = rng.randrange(len(doc))
        piece = doc[a:a + rng.randint(1, 200)]
        texts.append(corpus["rng_text"](rng, rng.randint(0, 6)) + piece
                     + corpus["rng_text"](rng, rng.randint(0, 6)))
    out = verify_candidates(_table(texts), corpus["index"], tok, 8)
    got = out.column("match_tokens").to_pylist()
    offsets = token_offsets(texts, tok)
    for text, offs, n in zip(texts, offsets, got):
        assert n == _brute_tokens(hay, text, offs), text
    assert out.column("memorized").to_pylist() == [n >= 8 for n in got]


def test_hf_fast_tokenizer(corpus, bpe):
    from transformers import PreTrainedTokenizerFast

    hf = PreTrainedTokenizerFast(tokenizer_object=bpe)
    text = "xx " + PLANTED
    a = verify_candidates(_table([text]), corpus["index"], hf, 5).column("match_tokens").to_pylist()
    b = verify_candidates(_table([text]), corpus["index"], bpe, 5).column("match_tokens").to_pylist()
    assert a == b and a[0] > 20
