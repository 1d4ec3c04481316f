"""The on-disk layout memx.verify.sarray reads, checked on an index infini-gram has just built.

sarray.py memory-maps infini-gram's v4 `u8` files itself instead of going through the
engine, so an infini-gram release that changed them would silently break verification;
these tests make it fail here instead: `tokenized.{i}` is each document's raw bytes after
a 0xFF separator, `offset.{i}` the u64 start of each, and `table.{i}` the suffix array as
little-endian pointers of ceil(log2(size) / 8) bytes, sorted byte-wise with the end of
the data first. The corpus makes one shard with 3-byte pointers (the shift-and-add path)
and one with 2-byte pointers (the integer-view path). CorpusIndex refuses an index.json
made for another format.
"""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from memx.errors import ConfigError
from memx.index import build_index
from memx.verify.byteindex import DOC_SEP, CorpusIndex
from memx.verify.sarray import ShardSearcher

WORDS = "the of and to in is caf\u00e9 na\u00efve \u65e5\u672c data model token index . , \n".split(" ")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    rng = random.Random(11)
    root = tmp_path_factory.mktemp("layout")
    big = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 60))) for _ in range(400)]
    big += ["the the the the the the the the", "the the the the"]  # long shared prefixes, one a prefix of the other
    small = " ".join(rng.choice(WORDS) for _ in range(120))
    with (root / "a.jsonl").open("w") as f:
        for doc in big:
            f.write(json.dumps({"text": doc}) + "\n")
    (root / "b.txt").write_text(small)
    shard0 = sum(len(doc.encode()) + 1 for doc in big)  # exactly full: b.txt starts shard 1
    assert shard0 > 1 << 16, "shard 0 must need 3-byte pointers"
    out = root / "index"
    meta = build_index([root / "a.jsonl", root / "b.txt"], out, progress=False, shard_bytes=shard0)
    assert meta["shards"] == 2
    return out, [big, [small]]


def _pointers(table: bytes, width: int) -> np.ndarray:
    raw = np.frombuffer(table, dtype=np.uint8).reshape(-1, width).astype(np.int64)
    return (raw << (8 * np.arange(width, dtype=np.int64))).sum(axis=1)  # little-endian


def _suffix_le(data: bytes, p: int, q: int) -> bool:
    """data[p:] <= data[q:] byte-wise; a suffix that ends first sorts first (Python's bytes order)."""
    width = 16
    while True:
        a, b = data[p:p + width], data[q:q + width]
        if a != b or len(a) < width or len(b) < width:
            return a <= b
        width *= 2


@pytest.mark.parametrize("shard", [0, 1])
def test_tokenized_and_offsets_are_raw_documents(built, shard):
    out, docs = built
    data = (out / f"tokenized.{shard}").read_bytes()
    assert data == b"".join(DOC_SEP + doc.encode() for doc in docs[shard])
    offsets = np.frombuffer((out / f"offset.{shard}").read_bytes(), dtype="<u8")
    assert len(offsets) == len(docs[shard]) and all(data[o:o + 1] == DOC_SEP for o in offsets)


@pytest.mark.parametrize("shard, width", [(0, 3), (1, 2)])
def test_suffix_array_pointer_width_and_order(built, shard, width):
    out, _ = built
    data = (out / f"tokenized.{shard}").read_bytes()
    table = (out / f"table.{shard}").read_bytes()
    n = len(data)
    assert math.ceil(math.log2(n) / 8) == width
    assert len(table) == n * width, "pointer width is not ceil(log2(size) / 8) bytes"
    assert ShardSearcher(out / f"tokenized.{shard}", out / f"table.{shard}").ptr_size == width
    sa = _pointers(table, width)
    assert np.array_equal(np.sort(sa), np.arange(n)), "the table is not a permutation of positions"
    unsorted = [r for r in range(n - 1) if not _suffix_le(data, int(sa[r]), int(sa[r + 1]))]
    assert unsorted == [], f"suffixes out of byte order at ranks {unsorted[:5]}"


def test_searcher_reads_the_fresh_index(built):
    out, docs = built
    index = CorpusIndex(out)
    corpus = [d.encode() for shard in docs for d in shard]
    for query in ("the the the the the", "caf\u00e9 data", "zzz", docs[1][0][:40], docs[0][-2]):
        raw = query.encode()
        longest = int(index.prefix_lengths([raw], [np.zeros(1)])[0][0])  # longest prefix found in the corpus
        assert any(raw[:longest] in doc for doc in corpus)
        assert longest == len(raw) or not any(raw[:longest + 1] in doc for doc in corpus), query


@pytest.mark.parametrize("field, value", [("format", "infini-gram"), ("token_dtype", "u16")])
def test_an_index_made_for_another_format_is_refused(built, tmp_path, field, value):
    out, _ = built
    meta = json.loads((out / "index.json").read_text())
    other = tmp_path / "other"
    other.mkdir()
    (other / "index.json").write_text(json.dumps({**meta, field: value}))
    with pytest.raises(ConfigError) as refused:
        CorpusIndex(other)
    message = str(refused.value)
    assert "verify.index" in message and "another format" in message and "\n" not in message
