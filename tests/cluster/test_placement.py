"""Placement on a simulated multi-node cluster with fake GPUs: one replica per GPU, never two
on one device; and a model that cannot load fails after bounded restarts instead of looping."""

from __future__ import annotations

import pytest

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

from cluster.actors import plan_placement  # noqa: E402
from cluster.pool import StageWork, run_stages  # noqa: E402
from memx.config import parse_config  # noqa: E402
from memx.errors import MemxFailure  # noqa: E402
from memx.plan import plan_stage  # noqa: E402
from memx.runstate import new_run  # noqa: E402


@pytest.fixture(scope="module")
def gpu_cluster():
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "num_gpus": 0})
    for _ in range(2):
        cluster.add_node(num_cpus=2, num_gpus=2)
    ray.init(address=cluster.address)
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
    work = StageWork("samples", plan_stage(config, "samples"), placement, runner="tests.cluster.runners:WhereAmIRunner")
    result = run_stages(new_run(config), [work], show_progress=False)["samples"]
    assert len(result.done) == 8
    by_actor = {r["pid"]: (r["node_id"], tuple(r["gpu_ids"])) for r in result.records}
    assert len(by_actor) == 4, "every replica got work"
    devices = list(by_actor.values())
    assert all(len(gpus) == 1 for _, gpus in devices), devices
    assert len(set(devices)) == 4, f"two replicas share a GPU: {devices}"
    assert len({node for node, _ in devices}) == 2


def test_model_that_cannot_load_fails_after_bounded_restarts(gpu_cluster, tmp_path):
    config = _config(tmp_path, actors=1, gpus_per_actor=1)
    work = StageWork("samples", plan_stage(config, "samples"), plan_placement(config), max_restarts=2,
                     runner="tests.cluster.runners:BrokenModelRunner")
    with pytest.raises(MemxFailure, match="model weights are corrupt"):
        run_stages(new_run(config), [work], show_progress=False)
