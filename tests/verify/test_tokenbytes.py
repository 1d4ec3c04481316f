"""memx.verify.tokenbytes (token id -> exact bytes) and CorpusIndex.count_bytes/count_many
(exact byte counts) checked against transformers' own byte alphabet, round trips of
encoded text, and a plain bytes.find count over the fixture corpus."""

from __future__ import annotations

import random

import numpy as np
import pytest

from memx.verify.tokenbytes import PackedTable, _byte_decoder, token_byte_table

def ids_to_bytes(ids, table: list[bytes | None]) -> bytes:
    """The table read the plain way: concatenated bytes of `ids`, special tokens (None) none."""
    return b"".join(b for b in (table[int(i)] for i in ids) if b is not None)


TEXTS = ["x caf\u00e9 \u65e5\u672c\U0001F600 end", "na\u00efve \u00fcber stra\u00dfe, the data.\n\n  spaces",
         "\U0001F600\U0001F600\U0001F600 emoji only", "tab\tand\r\nnewline \x00 nul"]


@pytest.fixture(scope="module")
def lab_tokenizer(tmp_path_factory):
    from memx.lab.tokenizer import train_tokenizer

    docs = ["caf\u00e9 na\u00efve \u65e5\u672c \U0001F600 hello world the data model " * 3] * 40
    return train_tokenizer(docs, 400, tmp_path_factory.mktemp("tok"))


def test_byte_alphabet_is_gpt2s():
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    assert _byte_decoder() == {ch: b for b, ch in bytes_to_unicode().items()}


def test_byte_level_round_trip_and_specials(lab_tokenizer):
    table = token_byte_table(lab_tokenizer)
    eos = lab_tokenizer.eos_token_id
    assert table[eos] is None
    assert len(table) == len(lab_tokenizer)
    for text in TEXTS:
        ids = lab_tokenizer(text, add_special_tokens=False)["input_ids"]
        assert ids_to_bytes(ids, table) == text.encode("utf-8")
        assert ids_to_bytes([eos] + ids + [eos], table) == text.encode("utf-8")
    # the emoji is split over two tokens: neither half is valid UTF-8 on its own
    ids = lab_tokenizer("\U0001F600", add_special_tokens=False)["input_ids"]
    pieces = [table[i] for i in ids]
    assert b"".join(pieces) == "\U0001F600".encode() and all(len(p) < 4 for p in pieces)


def test_packed_table_matches_list(lab_tokenizer):
    table = token_byte_table(lab_tokenizer)
    packed = PackedTable(table)
    for i, b in enumerate(table):
        assert packed.special[i] == (b is None)
        got = packed.data[packed.offset[i]:packed.offset[i] + packed.length[i]].tobytes()
        assert got == (b or b"")


def test_non_byte_level_fallback_decodes_each_id():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[UNK]": 0, "[EOS]": 1, "hello": 2, "w\u00f6rld": 3, "<0x0A>": 4}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", eos_token="[EOS]")
    table = token_byte_table(fast)
    assert table[0] is None and table[1] is None  # specials have no bytes
    assert table[2] == b"hello" and table[3] == "w\u00f6rld".encode()
    assert table[4] == b"\n"  # byte-fallback pieces are their byte, not their spelling


def _brute_count(docs_bytes: list[bytes], needle: bytes) -> int:
    n = 0
    for hay in docs_bytes:  # per document: no occurrence may cross a document boundary
        i = hay.find(needle)
        while i != -1:
            n += 1
            i = hay.find(needle, i + 1)
    return n


def test_count_many_agrees_with_bytes_find(corpus):
    idx = corpus["index"]
    docs = [d.encode("utf-8") for d in corpus["docs"]]
    rng = random.Random(5)
    queries = [b"", b"the ", b"\xe6\x97", "\U0001F600".encode()[:3], b"zzzz-not-there"]
    for _ in range(200):
        doc = rng.choice(docs)
        a = rng.randrange(len(doc))
        queries.append(doc[a:a + rng.choice([1, 2, 3, 5, 9, 17, 40, 200])])  # may cut a character
    # the end of one document followed by the start of the next is not in the corpus
    queries.append(docs[3][-6:] + docs[4][:6])
    got = idx.count_many(queries)
    assert got.dtype == np.int64 and len(got) == len(queries)
    expected = [_brute_count(docs, q) if q else 0 for q in queries]
    assert got.tolist() == expected
    assert expected[-1] == 0 and max(expected) > 100  # overlapping, frequent pieces were tried
    assert idx.count_bytes(queries[6]) == expected[6]
    assert idx.count("the ") == expected[1]
