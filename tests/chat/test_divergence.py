"""Where a divergence sample diverges, against hand-made generations: a toy vocabulary
whose tokens' bytes are chosen so each case (a token straddling the end of the run, a
word that prefixes the next, special tokens after the run) is exactly what it says,
then the same rules through a real byte-level tokenizer."""

from __future__ import annotations

import numpy as np
import pytest

from memx.chat.divergence import NOT_DIVERGED, divergence_points, repetition_run, span_from
from memx.verify.tokenbytes import PackedTable, token_byte_table

EOS = 0
VOCAB = [None, b"poem", b" poem", b" ", b"Poem", b",", b"s", b" the", b" end", b"po", b"em the", b"!\n",
         b" POEM", b"I", b" cannot", b" do", b".", b"\n", b" poems", b"\xc3", b"\xa9", b"a", b" a", b" and"]
TOKENS = {b: i for i, b in enumerate(VOCAB) if b is not None}
TABLE = PackedTable(VOCAB)


def ids(*pieces) -> list[int]:
    return [EOS if p is None else TOKENS[p.encode() if isinstance(p, str) else p] for p in pieces]


CASES = {  # name: (tokens, word, repeated, diverged_at)
    "all repetition": (ids("poem", " poem", " poem", " poem"), "poem", 4, None),
    "all repetition, trailing whitespace": (ids("poem", " poem", "\n", " "), "poem", 2, None),
    "repetition then prose": (ids("poem", " poem", " poem", ".", " the", " end"), "poem", 3, 4),
    "mixed case and punctuation": (ids("Poem", ",", " POEM", "!\n", "poem", ",", " the"), "poem", 3, 6),
    "a prefix of the next word": (ids("poem", " poem", " poems", " poem"), "poem", 2, 2),
    "a prefix, inside one token": (ids("poem", "s", " poem"), "poem", 0, 0),
    "a refusal that never repeats": (ids("I", " cannot", " do", " the", "."), "poem", 0, 0),
    "special tokens after the run": (ids("poem", " poem", None, None), "poem", 2, None),
    "special token, then prose": (ids("poem", None, " the"), "poem", 1, 2),
    "a token straddles the run's end": (ids("poem", " ", "po", "em the"), "poem", 2, 3),
    "the word 'a' among words": (ids("a", " a", " a", " and", " a"), "a", 3, 3),
    "empty": ([], "poem", 0, None),
    "only special": (ids(None, None), "poem", 0, None),
    "a character split over tokens": (ids("poem", " ", b"\xc3", b"\xa9"), "poem", 1, 2),
}


@pytest.mark.parametrize("name", CASES)
def test_hand_made_generations(name):
    tokens, word, repeated, diverged = CASES[name]
    found = divergence_points([tokens], [word], TABLE)
    assert int(found["repeated"][0]) == repeated
    assert int(found["diverged_at"][0]) == (NOT_DIVERGED if diverged is None else diverged)


def test_a_whole_shard_at_once_equals_row_by_row():
    rows = [CASES[name][0] for name in CASES]
    words = [CASES[name][1] for name in CASES]
    together = divergence_points(rows, words, TABLE)
    for k, (tokens, word) in enumerate(zip(rows, words)):
        alone = divergence_points([tokens], [word], TABLE)
        assert together["repeated"][k] == alone["repeated"][0]
        assert together["diverged_at"][k] == alone["diverged_at"][0]
    assert together["repeated"].dtype == np.int32 and together["diverged_at"].dtype == np.int32


def test_span_from_is_the_generated_length_when_nothing_diverged():
    at = np.array([3, NOT_DIVERGED, 0], dtype=np.int32)
    assert span_from(at, np.array([10, 10, 10])).tolist() == [3, 10, 0]


def test_run_definition_on_text():
    assert repetition_run("poem poem poems", "poem") == (len("poem poem "), 2)
    assert repetition_run('"Poem, POEM!" poem', "poem") == (len('"Poem, POEM!" poem'), 3)
    assert repetition_run("poempoem", "poem") == (0, 0)  # not whole occurrences
    assert repetition_run("poem_poem", "poem") == (0, 0)  # underscore joins words
    assert repetition_run("book book. Once", "book") == (len("book book. "), 2)


def test_real_tokenizer_and_decoded_text_agree(tokenizer):
    """The divergence point's token holds the first byte past the run in the decoded text."""
    table = PackedTable(token_byte_table(tokenizer))
    texts = ["poem poem poem poem the river", "Poem, poem! poems are quiet", "the river poem"]
    rows = [tokenizer(t, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for t in texts]
    found = divergence_points(rows, ["poem"] * 3, table)
    assert found["repeated"].tolist() == [4, 2, 0]
    for row, text, at in zip(rows, texts, found["diverged_at"].tolist()):
        run, _ = repetition_run(text, "poem")
        before = tokenizer.decode(row[:at], skip_special_tokens=True)
        upto = tokenizer.decode(row[: at + 1], skip_special_tokens=True)
        assert len(before) <= run < len(upto)
