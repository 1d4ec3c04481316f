"""Selection on a hand-made run: ranks, ties, pool and per_config limits, both de-dups."""

import pyarrow as pa
import pytest

from memx.config import SelectionConfig
from memx.reduce import run_reduce, total_unique
from tests.support.run_reader import InMemoryRunReader

ROWS = [  # sample_id, strategy, text, score_m1, score_other
    ("top_k-00000-00000", "top_k", "alpha beta gamma delta epsilon", 0.9, 0.1),
    ("top_k-00000-00001", "top_k", "alpha beta gamma delta epsilon zeta", 0.95, 0.2),
    ("top_k-00000-00002", "top_k", "one two three four five", 0.9, 0.8),
    ("top_k-00000-00003", "top_k", "six seven eight nine ten", 0.5, 0.3),
    ("top_k-00000-00004", "top_k", "eleven twelve thirteen fourteen", 0.4, 0.9),
    ("internet-00000-00000", "internet", "one, two; three four five!", 0.9, 0.1),
    ("internet-00000-00001", "internet", "completely different words here now", 0.1, 0.9),
]


def reader() -> InMemoryRunReader:
    ids, strategies, texts, m1, other = zip(*ROWS)
    samples = pa.table({"sample_id": ids, "strategy": strategies, "shard": [0] * len(ids), "text": texts})
    scores = pa.table({"sample_id": ids, "score_m1": m1, "score_other": other})
    return InMemoryRunReader(samples, scores)


def config_rows(table: pa.Table, strategy: str, metric: str) -> list[dict]:
    return [r for r in table.to_pylist() if r["strategy"] == strategy and r["metric"] == metric]


def test_rank_ties_and_in_config_dedup():
    table = run_reduce(reader(), ["m1", "other"], SelectionConfig(pool=3, per_config=2)).candidates
    rows = config_rows(table, "top_k", "m1")
    # ranking: 00001 (0.95), then the 0.9 tie broken by sample_id: 00000 before 00002;
    # 00000 is contained in 00001 (a duplicate), so it is skipped
    assert [r["sample_id"] for r in rows] == ["top_k-00000-00001", "top_k-00000-00002"]
    assert [r["rank"] for r in rows] == [1, 2]
    assert [r["pool_rank"] for r in rows] == [1, 3]
    assert [r["score"] for r in rows] == [0.95, 0.9]
    assert [r["duplicates"] for r in rows] == [2, 2]  # 00001~00000 and 00002~internet 00000


def test_pool_limits_the_walk():
    table = run_reduce(reader(), ["m1"], SelectionConfig(pool=2, per_config=2)).candidates
    assert [r["sample_id"] for r in config_rows(table, "top_k", "m1")] == ["top_k-00000-00001"]


def test_per_config_limits_the_kept_rows():
    table = run_reduce(reader(), ["m1", "other"], SelectionConfig(pool=5, per_config=1)).candidates
    assert table.num_rows == 4
    assert set(table.column("rank").to_pylist()) == {1}


def test_union_dedup_marks_one_representative():
    table = run_reduce(reader(), ["m1", "other"], SelectionConfig(pool=3, per_config=2)).candidates
    by_key = {(r["strategy"], r["metric"], r["sample_id"]): r for r in table.to_pylist()}
    # internet-00000 (rank 1 in internet/m1) outranks its near-copy top_k-00002 (rank 2)
    rep = by_key[("internet", "m1", "internet-00000-00000")]
    assert rep["union_keep"] and rep["union_of"] == "internet-00000-00000"
    for metric in ("m1", "other"):
        copy = by_key[("top_k", metric, "top_k-00000-00002")]
        assert not copy["union_keep"] and copy["union_of"] == "internet-00000-00000"
    # the same sample kept by two metrics counts once
    repeats = [r for r in table.to_pylist() if r["sample_id"] == "internet-00000-00001"]
    assert sorted(r["union_keep"] for r in repeats) == [False, True]
    assert total_unique(table) == {"top_k": 2, "internet": 2}
    assert sum(table.column("union_keep").to_pylist()) == 4


def test_missing_score_column_is_an_error():
    with pytest.raises(KeyError):
        run_reduce(reader(), ["nope"], SelectionConfig(pool=3, per_config=2)).candidates
