"""Token-level infini-gram indexes (docs/indexes.md) read by memx: counts and longest matches against
brute force and against infini-gram's own engine, shards and directory lists, u16 and u32.

The indexes are written as the released ones are (no index.json, infini-gram's indexer
on one CPU) or built by `memx.index_tokens.build_token_index`; nothing is stubbed.
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from memx.errors import ConfigError
from memx.index_tokens import build_token_index
from memx.verify.search import open_index_dirs, span_search
from memx.verify.tokenindex import open_token_index
from tests.verify.tokindex_support import brute_count, brute_longest, longest_prefix_tokens, write_raw_index

RNG = random.Random(5)


def _docs(n_docs: int, vocab: int, seed: int, lo: int = 3, hi: int = 60) -> list[list[int]]:
    rng = random.Random(seed)
    return [[rng.randrange(vocab) for _ in range(rng.randint(lo, hi))] for _ in range(n_docs)]


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    """Two shards of small-alphabet documents (long shared runs), u16, plus the same in u32."""
    docs = _docs(80, 6, seed=1) + [[7, 7, 7, 7], [7, 7], [300, 301, 302]]
    shards = [docs[:40], docs[40:]]
    root = tmp_path_factory.mktemp("raw")
    return {"docs": docs, "u16": write_raw_index(root / "u16", shards, "u16"),
            "u32": write_raw_index(root / "u32", shards, "u32")}


def _queries(docs: list[list[int]], rng: random.Random, n: int = 150) -> list[list[int]]:
    out = []
    for _ in range(n):
        doc = rng.choice(docs)
        start = rng.randrange(len(doc))
        q = doc[start:start + rng.randint(1, 30)]
        if rng.random() < 0.5:  # run off the document's end into other tokens
            q = q + [rng.randrange(8) for _ in range(rng.randint(1, 8))]
        out.append(q)
    out += [doc + doc for doc in docs[-3:]]  # longer than any document
    out += [[7, 7, 7, 7, 7], [302], [5, 999], [0]]
    return out


@pytest.mark.parametrize("dtype", ["u16", "u32"])
@pytest.mark.parametrize("vocab", [None, 1000])  # queries ended by the separator + limits, or by an unused id
def test_longest_and_counts_equal_brute_force(raw, dtype, vocab):
    index = open_token_index([raw[dtype]], dtype, vocab)
    assert index.end_token == (index.separator if vocab is None else index.separator - 1)
    assert index.width == {"u16": 2, "u32": 4}[dtype] and len(index._shards) == 2
    queries = _queries(raw["docs"], random.Random(2))
    longest = longest_prefix_tokens(index, queries)
    counts = index.count_tokens(queries)
    for q, got, count in zip(queries, longest, counts):
        assert got == brute_longest(raw["docs"], q), q
        assert count == brute_count(raw["docs"], q), q


@pytest.mark.parametrize("vocab", [None, 10])
def test_the_separator_breaks_every_match(tmp_path, vocab):
    out = write_raw_index(tmp_path / "two", [[[1, 2, 3], [4, 5, 6]]], "u16")
    index = open_token_index([out], "u16", vocab)
    # a document's end is followed by the next one's separator, never by its first token
    assert longest_prefix_tokens(index, [[2, 3, 4, 5], [3], [6, 1], [5, 6, 7]]).tolist() == [2, 1, 1, 2]
    assert index.count_tokens([[3, 4], [3], [2, 3]]).tolist() == [0, 1, 1]
    for bad, says in (([3, 0xFFFF], "is the separator"), ([70000], "outside u16"), ([-1], "outside u16")):
        with pytest.raises(ConfigError) as refused:
            index.count_tokens([bad])
        assert says in str(refused.value) and "\n" not in str(refused.value)


def test_single_token_corpus(tmp_path):
    out = write_raw_index(tmp_path / "one", [[[42]]], "u16")
    index = open_token_index([out], "u16")
    assert longest_prefix_tokens(index, [[42], [42, 42], [41], []]).tolist() == [1, 1, 0, 0]
    assert index.count_tokens([[42], [42, 42], [41]]).tolist() == [1, 0, 0]


def test_a_list_of_two_directories_is_one_index(raw, tmp_path):
    docs = raw["docs"]
    a = write_raw_index(tmp_path / "a", [docs[:40]], "u16")
    b = write_raw_index(tmp_path / "b", [docs[40:]], "u16")
    both, whole = open_token_index([a, b], "u16"), open_token_index([raw["u16"]], "u16")
    queries = _queries(docs, random.Random(3))
    assert longest_prefix_tokens(both, queries).tolist() == longest_prefix_tokens(whole, queries).tolist()
    assert both.count_tokens(queries).tolist() == whole.count_tokens(queries).tolist()


def test_spans_of_generated_ids_equal_brute_force(raw, tmp_path):
    """TokenSearch (same tokenizer) over samples, specials breaking runs, leftmost longest."""
    from tokenizers import Tokenizer, models

    vocab = {f"t{i}": i for i in range(400)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="t0"))
    tok.add_special_tokens(["<eos>"])
    eos = tok.token_to_id("<eos>")
    index = open_token_index([raw["u16"]], "u16")
    search = span_search(tok, index, tok)
    assert type(search).__name__ == "TokenSearch"
    rng = random.Random(4)
    samples = []
    for q in _queries(raw["docs"], rng, 60):
        sample = [rng.randrange(8) for _ in range(rng.randint(0, 5))] + q
        if rng.random() < 0.3:
            sample.insert(rng.randrange(len(sample) + 1), eos)
        samples.append(sample)
    out = search.spans(samples)
    for k, sample in enumerate(samples):
        best, at = 0, 0
        for s in range(len(sample)):
            run = []
            for t in sample[s:]:
                if t == eos:
                    break
                run.append(t)
            n = brute_longest(raw["docs"], run)
            if n > best:
                best, at = n, s
        assert out["match_tokens"][k] == best, sample
        if best:
            assert (out["match_start"][k], out["match_end"][k]) == (at, at + best)
            assert out["corpus_count"][k] == brute_count(raw["docs"], sample[at:at + best])


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A memx-built token index (u16, 2 shards) of text, with a small byte-level BPE."""
    from tests.support.tiny import prose
    from tests.scoring.scoring_fixtures import build_tokenizer

    root = tmp_path_factory.mktemp("built")
    lines = prose(1500, seed=9).splitlines()
    docs = ["\n".join(lines[i:i + 6]) for i in range(0, len(lines), 6)]
    with (root / "c.jsonl").open("w") as f:
        for d in docs:
            f.write(json.dumps({"text": d}) + "\n")
    tok_dir = build_tokenizer(root / "tok", vocab_size=500, text=lines)
    meta = build_token_index([root / "c.jsonl"], root / "idx", str(tok_dir), progress=False, shard_bytes=40_000)
    return {"root": root, "docs": docs, "tok": str(tok_dir), "dir": root / "idx", "meta": meta}


def test_built_index_json_and_counts_equal_infini_gram_engine(built):
    from infini_gram.engine import InfiniGramEngine

    meta = built["meta"]
    assert (meta["format"], meta["token_dtype"], meta["tokenizer"]) == ("memx-infini-gram-token", "u16", built["tok"])
    assert meta["shards"] == 2 and json.loads((built["dir"] / "index.json").read_text()) == meta
    index, tokenizer = open_index_dirs([built["dir"]])  # dtype and tokenizer from the index itself
    engine = InfiniGramEngine(index_dir=str(built["dir"]), eos_token_id=0, token_dtype="u16")
    rng = random.Random(8)
    queries = []
    for _ in range(200):
        ids = tokenizer.encode(rng.choice(built["docs"]), add_special_tokens=False).ids
        start = rng.randrange(len(ids))
        queries.append(ids[start:start + rng.randint(1, 12)])
    ours = index.count_tokens(queries).tolist()
    assert ours == [engine.count(q)["count"] for q in queries]
    assert sum(c > 1 for c in ours) > 20  # repeated n-grams were exercised too


def test_pointer_and_table_sizes_follow_the_layout(built):
    from memx.verify.sarray import pointer_width

    for shard in range(2):
        size = (built["dir"] / f"tokenized.{shard}").stat().st_size
        assert size % 2 == 0
        assert (built["dir"] / f"table.{shard}").stat().st_size == size // 2 * pointer_width(size)
        data = np.fromfile(built["dir"] / f"tokenized.{shard}", dtype="<u2")
        offsets = np.fromfile(built["dir"] / f"offset.{shard}", dtype="<u8")
        assert (data[offsets // 2] == 0xFFFF).all() and (data == 0xFFFF).sum() == len(offsets)
