"""memx.index: build from txt/jsonl/parquet, index.json last, exact counts and longest
corpus prefixes that agree with a plain Python substring search over the same documents."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from memx.errors import ConfigError
from memx.index import build_index
from memx.verify.byteindex import DOC_SEP, CorpusIndex

from .conftest import PLANTED


def _count_overlapping(hay: bytes, needle: bytes) -> int:
    n, i = 0, hay.find(needle)
    while i != -1:
        n += 1
        i = hay.find(needle, i + 1)
    return n


def _prefixes(idx: CorpusIndex, data: bytes) -> np.ndarray:
    """The longest corpus prefix of data[at:] for every byte offset `at`."""
    return idx.prefix_lengths([data], [np.arange(len(data))])[0]


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
    data = ("zzqq " + PLANTED + " qqzz").encode()
    reach = _prefixes(idx, data)
    assert reach.max() >= len(PLANTED.encode()) and reach[5] >= len(PLANTED.encode())


def test_absent(corpus):
    idx = corpus["index"]
    assert idx.count("this string is not in the corpus at all") == 0
    assert _prefixes(idx, b"").size == 0
    assert _prefixes(idx, "\u0416\u0416\u0416".encode()).tolist() == [0] * 6


def test_agrees_with_python_search(corpus):
    idx, docs = corpus["index"], [d.encode() for d in corpus["docs"]]
    hay = DOC_SEP.join(docs)  # the separator never occurs in a UTF-8 query: no match crosses it
    rng = random.Random(11)
    queries, pieces = [], []
    for _ in range(300):
        doc = rng.choice(docs)
        a = rng.randrange(len(doc))
        piece = doc[a:a + rng.randint(1, 120)]  # may cut a character
        text = (corpus["rng_text"](rng, rng.randint(0, 8)).encode() + piece
                + corpus["rng_text"](rng, rng.randint(0, 8)).encode())
        queries.append(text[: rng.randint(1, len(text))] if rng.random() < 0.2 else text)
        pieces.append(piece)
    offsets = [np.arange(0, len(q), 1 + len(q) // 40) for q in queries]
    for q, offs, reach in zip(queries, offsets, idx.prefix_lengths(queries, offsets)):  # one batched search
        for at, n in zip(offs.tolist(), reach.tolist()):
            assert q[at:at + n] in hay, (q, at)
            assert at + n == len(q) or q[at:at + n + 1] not in hay, (q, at)  # the longest such prefix
    counts = idx.count_many(pieces)
    assert counts.tolist() == [_count_overlapping(hay, p) for p in pieces]


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


def test_a_list_of_two_byte_indexes_is_one_index(corpus, tmp_path):
    docs = corpus["docs"]
    for name, part in (("a", docs[:30]), ("b", docs[30:])):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps({"text": d}) + "\n" for d in part))
        build_index([tmp_path / f"{name}.jsonl"], tmp_path / name, progress=False)
    both, whole = CorpusIndex([tmp_path / "a", tmp_path / "b"]), corpus["index"]
    rng = random.Random(4)
    pieces = [d.encode()[s:s + rng.randint(1, 40)] for d in docs for s in (0, len(d.encode()) // 2)]
    assert both.count_many(pieces).tolist() == whole.count_many(pieces).tolist()
    data = [d.encode() for d in docs[25:35]]
    assert [x.tolist() for x in both.prefix_lengths(data, [np.arange(len(d)) for d in data])] == \
        [x.tolist() for x in whole.prefix_lengths(data, [np.arange(len(d)) for d in data])]
