"""Stages that run one after another on the same reservation share their actors' processes
(cluster/actors.py `IdleActors`): on a CPU-only Ray, generation's replica goes on to host the
scorer, the verifiers (another reservation) are new processes, and nothing is left running
once the call returns. A rehosted actor drops its previous runner first, and one that cannot
take the new runner is replaced by a fresh actor, which fails as any new actor would."""

from __future__ import annotations

import gc
import time
import weakref

import pytest

from cluster.actors import IdleActors, ShardActor, plan_placement
from cluster.pool import StageWork, run_stages
from cluster.schedule import run_shard_stages
from memx.config import parse_config
from memx.errors import MemxFailure
from memx.pipeline.run import new_run
from memx.pipeline.runners import ScoreRunner
from memx.shards import read_shard
from tests.support.processes import own_processes
from tests.support.tiny import run_config


def _shard_actor_processes() -> list[int]:
    return own_processes("ray::ShardActor")  # this test's Ray only, not the other worker's


def _none_left(seconds: float = 20.0) -> bool:
    deadline = time.time() + seconds
    while _shard_actor_processes():
        if time.time() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_generation_replica_goes_on_to_score_and_nothing_is_left_running(local_ray, tmp_path, tiny_family):
    from memx.index import build_index

    assert _none_left(), "another test left actors running"
    build_index([tiny_family["prompts"]], tmp_path / "index", progress=False)
    raw = run_config(str(tmp_path / "out"), tiny_family, samples=16, shard_size=4, cluster={"actors": 1})
    raw["generation"].update(strategies=["top_k", "internet"], max_new_tokens=16)
    raw["verify"] = {"index": str(tmp_path / "index"), "min_match_tokens": 4, "scope": "all"}
    run = new_run(parse_config(raw))
    results = run_shard_stages(run, show_progress=False)

    pids = {stage: {record["pid"] for record in result.records} for stage, result in results.items()}
    assert len(pids["samples"]) == 1 and pids["scores"] == pids["samples"], pids
    assert pids["verified"].isdisjoint(pids["samples"])  # one CPU each: another reservation, new processes
    assert _none_left(), _shard_actor_processes()
    # the rehosted scorer's rows are a fresh single-process scorer's
    clean = ScoreRunner(run, device="cpu", num_threads=1)
    for spec in run.plan("scores"):
        written, expected = read_shard(run.storage, spec), clean.rows(spec)
        for name in expected.column_names:
            if name.startswith(("score_", "nll_")):
                assert written.column(name).to_pylist() == pytest.approx(expected.column(name).to_pylist(), abs=1e-6)


def test_hosting_a_new_runner_drops_the_old_one(local_ray, tmp_path, tiny_family):
    run = new_run(parse_config(run_config(str(tmp_path / "out"), tiny_family)))
    actor = ShardActor("tests.cluster.runners:WhereAmIRunner", run.to_wire(), 1)  # in this process: no remote
    first = weakref.ref(actor.runner)
    actor.host("tests.cluster.runners:WhereAmIRunner")
    assert actor.runner is first(), "the same runner again is kept, not reloaded"
    info = actor.host("memx.pipeline.runners:GenerateRunner")
    gc.collect()
    assert first() is None and info["runner"] == "memx.pipeline.runners:GenerateRunner"
    assert type(actor.runner).__name__ == "GenerateRunner"


def test_an_actor_that_cannot_take_the_next_runner_is_replaced_then_fails_within_bounds(local_ray, tmp_path,
                                                                                        tiny_family):
    config = parse_config(run_config(str(tmp_path / "out"), tiny_family, samples=8, shard_size=4))
    run = new_run(config)
    placement = plan_placement(config)
    idle = IdleActors()
    try:
        first = run_stages(run, [StageWork("samples", run.plan("samples"), placement,
                                           runner="tests.cluster.runners:WhereAmIRunner")], show_progress=False,
                           idle=idle)["samples"]
        assert len({record["pid"] for record in first.records}) == 1
        broken = StageWork("scores", run.plan("scores"), placement, max_restarts=1,
                           runner="tests.cluster.runners:BrokenModelRunner")
        with pytest.raises(MemxFailure, match="model weights are corrupt"):
            run_stages(run, [broken], show_progress=False, idle=idle)
    finally:
        idle.close()
    assert _none_left(), _shard_actor_processes()
