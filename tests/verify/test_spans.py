"""memx.verify.spans.generated_spans: the span (docs/formulas.md#span) rule against a brute-force search.

A toy byte-level vocabulary (whole words, single letters, halves of multi-byte UTF-8
characters, two special ids) writes the documents of a small real index; samples are
random token runs with planted slices of those documents cut at any token (so a span
may start or end inside a character), special tokens and spans at the very end. The
brute force concatenates token bytes in Python and searches the documents with
`bytes.find`, one document at a time, counting overlapping occurrences.
"""

from __future__ import annotations

import json
import random

import numpy as np
import pyarrow as pa
import pytest

from memx.index import build_index
from memx.verify.byteindex import CorpusIndex
from memx.verify.spans import generated_spans
from memx.verify.tokenbytes import PackedTable

EOS, BOS = 0, 21
VOCAB: list[bytes | None] = [None, b"a", b"b", b"c", b"d", b"e", b"f", b" ", b"ab", b"the", b" the",
                             b".", b"\n", b"\xe6", b"\x97\xa5", b"\xe6\x9c\xac", b"\xf0\x9f",
                             b"\x98\x80", b"x", b"y", b"z", None]
# token groups that make whole UTF-8 characters (or ASCII), so documents are valid text
DOC_UNITS = [[i] for i in range(1, 13)] + [[13, 14], [15], [16, 17]]
UNITS = DOC_UNITS + [[18], [19], [20]]  # x, y, z never occur in the corpus
NIHON = [13, 14, 15]  # 日本: 日 split in two tokens, 本 in one
ALL_AB = [8] * 40  # "abab...": a span inside it occurs many times, overlapping


def _units(rng: random.Random, n: int, units=UNITS) -> list[int]:
    return [t for _ in range(n) for t in rng.choice(units)]


def _bytes(ids) -> bytes:
    return b"".join(VOCAB[i] or b"" for i in ids)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    rng = random.Random(3)
    doc_ids = [_units(rng, rng.randint(50, 300), DOC_UNITS) for _ in range(14)]
    doc_ids += [ALL_AB, NIHON * 5 + [7] + NIHON, [1, 2, 3, 4, 5, 6]]
    docs = [_bytes(d) for d in doc_ids]
    root = tmp_path_factory.mktemp("toy")
    with (root / "docs.jsonl").open("w") as f:
        for d in docs:
            f.write(json.dumps({"text": d.decode("utf-8")}) + "\n")
    build_index([root], root / "idx", progress=False, shard_bytes=3000)
    return {"doc_ids": doc_ids, "docs": docs, "index": CorpusIndex(root / "idx")}


def _count(docs: list[bytes], needle: bytes) -> int:
    n = 0
    for hay in docs:
        i = hay.find(needle)
        while i != -1:
            n, i = n + 1, hay.find(needle, i + 1)
    return n


def _brute(ids: list[int], docs: list[bytes]) -> tuple[int, int, int, int]:
    """(match_tokens, start, end, count): for each end j the smallest start i whose run is
    in some document (two pointers: a run in the corpus has every sub-run in it too)."""
    best, at, i = 0, 0, 0
    for j in range(1, len(ids) + 1):
        if VOCAB[ids[j - 1]] is None or ids[j - 1] >= len(VOCAB):
            i = j
            continue
        while i < j and not any(_bytes(ids[i:j]) in d for d in docs):
            i += 1
        if j - i > best:  # strictly longer only: of equal runs the leftmost stays
            best, at = j - i, i
    if best == 0:
        return (0, 0, 0, 0)
    return (best, at, at + best, _count(docs, _bytes(ids[at:at + best])))


def _check(samples, toy, stride=4):
    got = generated_spans(samples, VOCAB, toy["index"], stride=stride)
    assert got["match_tokens"].dtype == np.int32 and got["corpus_count"].dtype == np.int64
    for k, ids in enumerate(samples):
        row = tuple(int(got[c][k]) for c in ("match_tokens", "match_start", "match_end", "corpus_count"))
        assert row == _brute(ids, toy["docs"]), (k, ids)
    return got


@pytest.mark.parametrize("stride", [1, 2, 3, 4, 8, 64])  # first-pass spacing never changes results
def test_random_samples_against_brute_force(toy, stride):
    rng = random.Random(11)
    samples = [[], [EOS, BOS], [EOS]]
    for k in range(120):
        doc = rng.choice(toy["doc_ids"])
        a = rng.randrange(len(doc))
        planted = doc[a:a + rng.randint(1, 60)]  # any token cut: may start mid-character
        left, right = _units(rng, rng.randint(0, 20)), _units(rng, rng.randint(0, 20))
        ids = left + planted + ([] if k % 4 == 0 else right)  # every 4th ends on the span
        for _ in range(rng.choice([0, 0, 1, 3])):
            ids.insert(rng.randrange(len(ids) + 1), rng.choice([EOS, BOS]))
        samples.append(ids)
    for _ in range(60):  # several equal-length slices apart: ties the pruning must keep left
        length, ids = rng.randint(2, 6), []
        for _ in range(rng.randint(2, 6)):
            doc = rng.choice(toy["doc_ids"][:15])  # the random documents and "abab..."
            a = rng.randrange(len(doc) - length)
            ids += doc[a:a + length] + [rng.choice([18, 19, 20, EOS])]
        samples.append(ids[rng.randint(0, 3):])
    got = _check(samples, toy, stride)
    assert (got["match_tokens"] >= 20).sum() > 30  # long planted spans were really found
    assert got["match_tokens"][:3].tolist() == [0, 0, 0]


def test_multibyte_character_split_across_tokens(toy):
    # the second half of 日 then 本: not valid UTF-8 alone, yet it occurs inside 日本
    got = _check([[18, 19, 14, 15, 20, 20]], toy)
    assert (got["match_start"][0], got["match_end"][0]) == (2, 4)
    assert got["corpus_count"][0] >= 6  # the planted 日本 x6 (random documents may add more)


def test_special_token_breaks_a_span_and_ties_go_left(toy):
    # "abc" EOS "def": "abcdef" is in the corpus, but the EOS splits it into two runs of 3
    ids = [1, 2, 3, EOS, 4, 5, 6]
    got = _check([ids, [1, 2, 3, 4, 5, 6]], toy)
    assert got["match_tokens"].tolist() == [3, 6]
    assert got["match_start"].tolist() == [0, 0] and got["match_end"].tolist() == [3, 6]


def test_span_at_the_very_end_and_overlapping_counts(toy):
    ids = [18, 19, 20, 20, 19] + [8] * 10  # "abab..." ends the sample
    got = _check([ids], toy)
    assert (got["match_start"][0], got["match_end"][0]) == (5, 15)
    assert got["corpus_count"][0] >= 31  # 20 bytes in an 80-byte "abab" run: 31 overlapping starts


def test_only_the_ids_given_count(toy):
    # an internet prompt copied from the corpus: the sample's token_ids exclude it
    prompt = toy["doc_ids"][0][:40]
    generated = [18, 19, 20, 18, 19, 20]
    with_prompt, alone = generated_spans([prompt + generated, generated], VOCAB, toy["index"])["match_tokens"]
    assert with_prompt >= 40 and alone < 5


def test_arrow_input_unknown_ids_and_packed_table(toy):
    samples = [[1, 2, 3, 999, 4, 5, 6], [8, 8, 8], []]
    col = pa.chunked_array([pa.array(samples[:1], pa.list_(pa.int32())),
                            pa.array(samples[1:], pa.list_(pa.int32()))])
    from_arrow = generated_spans(col, PackedTable(VOCAB), toy["index"])
    from_lists = generated_spans(samples, VOCAB, toy["index"])
    for name in from_lists:
        assert from_arrow[name].tolist() == from_lists[name].tolist()
    assert from_lists["match_tokens"].tolist() == [3, 3, 0]  # id 999 has no bytes: a break
    # a sliced array (offsets not starting at 0) reads the right rows
    sliced = generated_spans(pa.array(samples, pa.list_(pa.int32())).slice(1), VOCAB, toy["index"])
    assert sliced["match_tokens"].tolist() == [3, 0]
