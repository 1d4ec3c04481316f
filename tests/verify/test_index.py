"""memx.index: build from txt/jsonl/parquet, index.json last, exact counts and longest
matches that agree with a plain Python substring search over the same documents."""

from __future__ import annotations

import json
import random

import pytest

from memx.errors import ConfigError
from memx.index import CorpusIndex, build_index

from .conftest import PLANTED

SEP = "\uffff"  # never generated, so a joined corpus cannot match across documents


def _count_overlapping(hay: str, needle: str) -> int:
    n, i = 0, hay.find(needle)
    while i != -1:
        n += 1
        i = hay.find(needle, i + 1)
    return n


def _brute_longest(hay: str, text: str) -> int:
    best, i = 0, 0
    for j in range(1, len(text) + 1):  # two pointers: text[i:j] in hay implies text[i+1:j] is
        while i < j and text[i:j] not in hay:
            i += 1
        best = max(best, j - i)
    return best


def test_meta_and_files(corpus):
    meta = corpus["meta"]
    assert meta["docs"] == len(corpus["docs"])
    assert meta["bytes"] == sum(len(d.encode()) for d in corpus["docs"])
    assert meta["shards"] > 1 and meta["token_dtype"] == "u8"
    on_disk = json.loads((corpus["dir"] / "index.json").read_text())
    assert on_disk == meta


def test_planted_found(corpus):
    idx = corpus["index"]
    assert idx.count(PLANTED) == 1
    assert idx.count("jane.doe@example.com") == 1
    text = "zzqq " + PLANTED + " qqzz"
    s, e, c = idx.longest_match(text)
    assert PLANTED in text[s:e] and c == 1


def test_absent(corpus):
    idx = corpus["index"]
    assert idx.count("this string is not in the corpus at all") == 0
    assert idx.longest_match("") == (0, 0, 0)
    assert idx.longest_match("\u0416\u0416\u0416") == (0, 0, 0)


def test_agrees_with_python_search(corpus):
    idx, docs = corpus["index"], corpus["docs"]
    hay = SEP.join(docs)
    rng = random.Random(11)
    for _ in range(300):
        doc = rng.choice(docs)
        a = rng.randrange(len(doc))
        piece = doc[a:a + rng.randint(1, 120)]
        text = corpus["rng_text"](rng, rng.randint(0, 8)) + piece + corpus["rng_text"](rng, rng.randint(0, 8))
        text = text[: rng.randint(1, len(text))] if rng.random() < 0.2 else text
        s, e, c = idx.longest_match(text)
        assert e - s == _brute_longest(hay, text), text
        if e > s:
            assert text[s:e] in hay and c == _count_overlapping(hay, text[s:e])
        assert idx.count(piece) == _count_overlapping(hay, piece)


def test_incomplete_index_refused(corpus, tmp_path):
    with pytest.raises(ConfigError, match="index.json"):
        CorpusIndex(tmp_path)


@pytest.mark.parametrize("bad", ["missing.txt", "x.csv", "emptydir"])
def test_bad_sources(tmp_path, bad):
    (tmp_path / "x.csv").write_text("a,b")
    (tmp_path / "emptydir").mkdir()
    with pytest.raises(ConfigError):
        build_index([tmp_path / bad], tmp_path / "out", progress=False)


def test_bad_jsonl_and_parquet(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"txt": "no text field"}\n')
    with pytest.raises(ConfigError, match="bad.jsonl:1"):
        build_index([tmp_path / "bad.jsonl"], tmp_path / "out", progress=False)
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "bad.parquet")
    with pytest.raises(ConfigError, match="no `text` column"):
        build_index([tmp_path / "bad.parquet"], tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "index.json").exists()


def test_rebuild_replaces(tmp_path):
    (tmp_path / "a.txt").write_text("first corpus text")
    build_index([tmp_path / "a.txt"], tmp_path / "out", progress=False)
    (tmp_path / "a.txt").write_text("second corpus text")
    build_index([tmp_path / "a.txt"], tmp_path / "out", progress=False)
    idx = CorpusIndex(tmp_path / "out")
    assert idx.count("second") == 1 and idx.count("first") == 0


def test_generic_pointer_width_agrees(corpus):
    """Pointer widths that are not 1/2/4/8 bytes (5 past 4 GiB) decode byte by byte."""
    import numpy as np

    idx = CorpusIndex(corpus["dir"])
    data = [d.encode() for d in corpus["docs"][:5]] + [b"zz no such text zz"]
    offs = [np.arange(0, len(d), 3) for d in data]
    fast = idx.prefix_lengths(data, offs)
    for shard in idx._shards:
        shard._sa_int = None
    slow = idx.prefix_lengths(data, offs)
    assert all((a == b).all() for a, b in zip(fast, slow))
    assert all((a[:-1] > 0).all() for a in fast[:5])


def test_sources_beside_the_index_are_recorded_relative_to_it(tmp_path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text("the same tree can be moved")
    meta = build_index([tmp_path / "corpus" / "a.txt"], tmp_path / "index", progress=False)
    assert meta["sources"] == ["../corpus/a.txt"]
    elsewhere = tmp_path / "far" / "b.txt"
    elsewhere.parent.mkdir()
    elsewhere.write_text("outside the index's tree")
    meta = build_index([elsewhere], tmp_path / "far" / "deep" / "index", progress=False)
    assert meta["sources"] == [str(elsewhere.resolve())]
