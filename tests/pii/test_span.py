"""Personal data inside a memorized span, with a real byte-level BPE: the token span maps
to the characters of `text` = decode(prompt + generated) that its bytes stand for (a
character cut by a span edge is left out, as match_text leaves it out), only entities
inside that range are listed (the same e-mail in the prompt or after the span is not),
a private key cut by the span's end still counts, and the column has its Arrow type."""

from __future__ import annotations

import pyarrow as pa
import pytest

from memx.pii import PERSONAL_DATA_TYPE, personal_data_column, personal_data_in_span, span_char_range
from memx.verify.tokenbytes import PackedTable, token_byte_table

from .labelled import pem_block

TRAIN = ["Contact jane at jane.doe@example.com or call +1 650-253-0000 today. " * 5,
         "The quick brown fox jumps over the lazy dog. " * 5]


@pytest.fixture(scope="module")
def bpe():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(TRAIN, trainer)
    return tok, PackedTable(token_byte_table(tok))


def _sample(tok, prompt: str, before: str, span: str, after: str):
    """(text, prompt ids, generated ids, match_start, match_end) with the span on token edges."""
    prompt_ids = tok.encode(prompt).ids
    parts = [tok.encode(p).ids for p in (before, span, after)]
    ids = parts[0] + parts[1] + parts[2]
    text = tok.decode(prompt_ids + ids, skip_special_tokens=True)
    return text, prompt_ids, ids, len(parts[0]), len(parts[0]) + len(parts[1])


def test_only_entities_inside_the_span_count(bpe):
    tok, packed = bpe
    text, p, ids, lo, hi = _sample(tok, "Mail jane.doe@example.com: ", "é noise ",
                                   "jane.doe@example.com, +1 650-253-0000 and bob@mail.example.org",
                                   " then jane.doe@example.com again")
    start, end = span_char_range(text, p, ids, lo, hi, packed.bytes_of)
    assert text[start:end] == "jane.doe@example.com, +1 650-253-0000 and bob@mail.example.org"
    got = personal_data_in_span(text, (start, end))
    assert [(e["type"], text[e["start"]:e["end"]]) for e in got] == [
        ("email", "jane.doe@example.com"), ("phone", "+1 650-253-0000"), ("email", "bob@mail.example.org")]
    assert text.count("jane.doe@example.com") == 3 and all(start <= e["start"] < e["end"] <= end for e in got)
    # the span stopping inside the second address drops it
    cut = personal_data_in_span(text, (start, end - 5))
    assert [e["type"] for e in cut] == ["email", "phone"]


def test_a_span_edge_inside_a_character(bpe):
    tok, packed = bpe
    prompt_ids = tok.encode("Prompt: ").ids
    ids = tok.encode("café €5 done").ids  # é and € are several byte tokens in this small vocabulary
    text = tok.decode(prompt_ids + ids)
    pieces = [packed.bytes_of([i]) for i in ids]
    # a span from the second byte of é up to the first byte of €
    e_start = next(k for k, b in enumerate(pieces) if b and (b[0] & 0xC0) == 0x80)
    euro = next(k for k, b in enumerate(pieces) if b and b[0] == 0xE2)
    start, end = span_char_range(text, prompt_ids, ids, e_start, euro + 1, packed.bytes_of)
    expected = packed.bytes_of(ids[e_start:euro + 1]).decode("utf-8", errors="ignore")  # match_text's rule
    assert text[start:end] == expected == " "
    assert span_char_range(text, prompt_ids, ids, 3, 3, packed.bytes_of) == (0, 0)


def test_text_decoded_otherwise_is_searched(bpe):
    tok, packed = bpe
    text, p, ids, lo, hi = _sample(tok, "Hi ", "so , ", "mail jane.doe@example.com now", " ok")
    cleaned = text.replace(" ,", ",")  # a decoder that cleans up spaces before punctuation
    start, end = span_char_range(cleaned, p, ids, lo, hi, packed.bytes_of)
    assert cleaned[start:end] == "mail jane.doe@example.com now"
    assert span_char_range("unrelated", p, ids, lo, hi, packed.bytes_of) == (0, 0)


def test_a_private_key_cut_by_the_span_counts():
    import random

    key = pem_block(random.Random(1), "RSA ", 6)
    text = "config:\n" + key + "\nmore"
    span = (8, 8 + len(key) // 2)  # the header and half the body
    got = personal_data_in_span(text, span)
    assert got == [{"type": "private_key", "start": 8, "end": span[1]}]
    assert personal_data_in_span(text, (9, len(text))) == []  # the header is not in the span


def test_column_type():
    texts = ["mail a@x.example", "call +1 650-253-0000 now", ""]
    column = personal_data_column(texts, [(0, 16), (0, 0), (0, 0)], types=["email", "phone"])
    assert column.type == PERSONAL_DATA_TYPE
    assert PERSONAL_DATA_TYPE == pa.list_(pa.struct([("type", pa.string()), ("start", pa.int32()), ("end", pa.int32())]))
    assert column.to_pylist() == [[{"type": "email", "start": 5, "end": 16}], [], []]


def test_memorized_personal_data_lists_memorized_rows_only(bpe):
    """The column as the verified stage writes it: each row's token span mapped to `text`,
    entities listed for memorized rows, `[]` for the others whatever their text holds."""
    from memx.pii import memorized_personal_data

    tok, packed = bpe
    rows = [_sample(tok, "Mail jane.doe@example.com: ", "x ", "call +1 650-253-0000 today", " bye"),
            _sample(tok, "", "", "jane.doe@example.com", "")]
    texts, prompts, ids, starts, ends = (list(c) for c in zip(*rows))
    column = memorized_personal_data(texts, prompts, ids, starts, ends, [True, False], packed.bytes_of)
    assert column.type == PERSONAL_DATA_TYPE
    first, second = column.to_pylist()
    assert [(e["type"], texts[0][e["start"]:e["end"]]) for e in first] == [("phone", "+1 650-253-0000")]
    assert second == []
    only_email = memorized_personal_data(texts, prompts, ids, starts, ends, [True, True], packed.bytes_of,
                                         types=["email"])
    assert only_email.to_pylist()[0] == [] and only_email.to_pylist()[1][0]["type"] == "email"
