"""Placement on a simulated multi-node cluster with fake GPUs: one replica per GPU, never two
on one device; and a model that cannot load fails after bounded restarts instead of looping."""

from __future__ import annotations

import pytest

import ray
from ray.cluster_utils import Cluster

from cluster.actors import plan_placement
from cluster.pool import StageWork, run_stages
from cluster.schedule import ALLOCATOR_ENV, job_env
from memx.config import parse_config
from memx.errors import MemxFailure
from memx.pipeline.run import new_run


@pytest.fixture(scope="module")
def gpu_cluster():
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "num_gpus": 0})
    for _ in range(2):
        cluster.add_node(num_cpus=2, num_gpus=2)
    ray.init(address=cluster.address, runtime_env={"env_vars": job_env()})  # as `memx run` connects
    cluster.wait_for_nodes()
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


def _config(tmp_path, **cluster):
    return parse_config({"run_id": "place", "output": str(tmp_path), "target": {"model": "none"},
                         "generation": {"strategies": ["top_k"], "samples_per_strategy": 8, "shard_size": 1},
                         "scoring": {"metrics": ["perplexity"]}, "cluster": cluster or {"actors": "auto"}})


def test_one_replica_per_gpu_on_distinct_devices(gpu_cluster, tmp_path):
    config = _config(tmp_path)
    placement = plan_placement(config)
    assert placement.actors == 4 and placement.num_gpus == 1
    work = StageWork("samples", new_run(config).plan("samples"), placement, runner="tests.cluster.runners:WhereAmIRunner")
    result = run_stages(new_run(config), [work], show_progress=False)["samples"]
    assert len(result.done) == 8
    by_actor = {r["pid"]: (r["node_id"], tuple(r["gpu_ids"])) for r in result.records}
    assert len(by_actor) == 4, "every replica got work"
    devices = list(by_actor.values())
    assert all(len(gpus) == 1 for _, gpus in devices), devices
    assert len(set(devices)) == 4, f"two replicas share a GPU: {devices}"
    assert len({node for node, _ in devices}) == 2
    assert all(r["malloc"] == ALLOCATOR_ENV for r in result.records), "every replica keeps its buffers in the heap"


def test_model_that_cannot_load_fails_after_bounded_restarts(gpu_cluster, tmp_path):
    config = _config(tmp_path, actors=1, gpus_per_actor=1)
    work = StageWork("samples", new_run(config).plan("samples"), plan_placement(config), max_restarts=2,
                     runner="tests.cluster.runners:BrokenModelRunner")
    with pytest.raises(MemxFailure, match="model weights are corrupt"):
        run_stages(new_run(config), [work], show_progress=False)


def test_on_gpus_verification_overlaps_generation_and_scoring_on_a_spare_cpu(gpu_cluster, tmp_path, tiny_family):
    """4 fake GPUs and 5 CPUs: 3 generators and 1 scorer on GPUs, and one verify actor on the
    CPU they leave, all in one pass of the queue; every shard of the three stages commits."""
    from cluster.schedule import run_shard_stages
    from memx.index import build_index
    from memx.pipeline.status import stage_status
    from tests.support.tiny import run_config

    build_index([tiny_family["prompts"]], tmp_path / "index", progress=False)
    raw = run_config(str(tmp_path / "out"), tiny_family, samples=16, shard_size=4, cluster={"actors": "auto"})
    raw["generation"].update(strategies=["top_k"], max_new_tokens=16)
    raw["verify"] = {"index": str(tmp_path / "index"), "min_match_tokens": 4, "scope": "all"}
    run = new_run(parse_config(raw))
    results = run_shard_stages(run, show_progress=False)
    assert set(results) == {"samples", "scores", "verified"}
    # one run_stages call for all three: they share its elapsed time
    assert results["verified"].seconds == results["samples"].seconds == results["scores"].seconds
    for stage in ("samples", "scores", "verified"):
        assert len(results[stage].done) == 4 and stage_status(run, stage).todo == []


def test_a_users_own_allocator_setting_wins_and_credentials_stay_behind():
    assert job_env({}) == ALLOCATOR_ENV
    mine = {"MALLOC_TRIM_THRESHOLD_": "0", "MEMX_CACHE": "/c", "AWS_SECRET_ACCESS_KEY": "s"}
    assert job_env(mine) == {**ALLOCATOR_ENV, "MALLOC_TRIM_THRESHOLD_": "0", "MEMX_CACHE": "/c"}
