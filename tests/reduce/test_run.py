"""End to end through an in-memory reader: candidate rows belong to their sample_id."""

from memx.config import SelectionConfig
from memx.reduce import CANDIDATE_SCHEMA, is_duplicate, run_reduce
from tests.support.run_reader import InMemoryRunReader

from .synth import make_run, text_score


def test_rows_carry_text_and_score_of_the_same_sample():
    samples, scores, _ = make_run(400, seed=5)
    calls = []
    result = run_reduce(InMemoryRunReader(samples, scores), ["zlib", "boosted", "random"],
                        SelectionConfig(pool=60, per_config=15), progress=lambda *a: calls.append(a))
    table = result.candidates
    assert table.schema == CANDIDATE_SCHEMA
    text_of = dict(zip(samples.column("sample_id").to_pylist(), samples.column("text").to_pylist()))
    score_rows = {r["sample_id"]: r for r in scores.to_pylist()}
    for row in table.to_pylist():
        assert row["text"] == text_of[row["sample_id"]]
        assert row["score"] == score_rows[row["sample_id"]][f"score_{row['metric']}"]
        if row["metric"] == "zlib":
            assert row["score"] == text_score(row["text"])  # recomputed from the shown text
        assert row["duplicates"] >= 1
    # planted groups are boosted, so the walk met and skipped near-duplicates
    boosted = [r for r in table.to_pylist() if r["metric"] == "boosted" and r["strategy"] == "top_k"]
    assert [r["rank"] for r in boosted] == list(range(1, 16))
    assert max(r["pool_rank"] for r in boosted) > 15
    for k, row in enumerate(boosted):
        assert not any(is_duplicate(row["text"], kept["text"]) for kept in boosted[:k])
    assert any(r["duplicates"] > 1 for r in boosted)
    stages = {c[0] for c in calls}
    assert {"reduce:scores", "reduce:signatures", "reduce:select"} <= stages


def test_empty_run_gives_an_empty_table():
    samples, scores, _ = make_run(0, groups=0)
    table = run_reduce(InMemoryRunReader(samples, scores), ["zlib"], SelectionConfig(pool=10, per_config=5)).candidates
    assert table.num_rows == 0 and table.schema == CANDIDATE_SCHEMA


def test_pool_bigger_than_run():
    samples, scores, _ = make_run(30, groups=2, shard_size=7)
    table = run_reduce(InMemoryRunReader(samples, scores), ["random"], SelectionConfig(pool=1000, per_config=100)).candidates
    ids = table.column("sample_id").to_pylist()
    assert len(ids) == len(set(ids)) and 0 < len(ids) <= 60
    text_of = dict(zip(samples.column("sample_id").to_pylist(), samples.column("text").to_pylist()))
    assert [text_of[sample_id] for sample_id in ids] == table.column("text").to_pylist()
