"""Shared fixture: a small byte-level index over seeded pseudo-text plus planted strings.

The corpus is kept in memory too (`docs`) so tests can compare the index with a plain
Python substring search. Built once per test session; it knows nothing about models.
"""

from __future__ import annotations

import json
import random

import pytest

from memx.index import build_index
from memx.verify.byteindex import CorpusIndex

WORDS = ("the of and to in is was for on that with as by at from it this be are or an "
         "caf\u00e9 na\u00efve \u00fcber stra\u00dfe \u65e5\u672c \U0001F600 data model token index").split()
PLANTED = ("Contact Jane Doe at jane.doe@example.com or +1 (415) 555-0199 for the 2021 "
           "extraction results; the key is 7f3a9c2e4b1d8f6a0c5e7b9d2f4a6c8e and nothing else.")


def _random_text(rng: random.Random, n_words: int) -> str:
    parts = []
    for _ in range(n_words):
        parts.append(rng.choice(WORDS))
        parts.append(rng.choice([" ", " ", " ", ", ", ".\n"]))
    return "".join(parts)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    rng = random.Random(7)
    root = tmp_path_factory.mktemp("corpus")
    docs = [_random_text(rng, rng.randint(20, 400)) for _ in range(60)]
    docs[10] = docs[10][:50] + PLANTED + docs[10][50:]
    (root / "a.txt").write_text(docs[0])
    with (root / "b.jsonl").open("w") as f:
        for d in docs[1:40]:
            f.write(json.dumps({"text": d}) + "\n")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": docs[40:]}), root / "c.parquet")
    out = tmp_path_factory.mktemp("index") / "idx"
    meta = build_index([root], out, progress=False, shard_bytes=40000)
    return {"docs": docs, "root": root, "dir": out, "meta": meta, "index": CorpusIndex(out),
            "rng_text": _random_text}
