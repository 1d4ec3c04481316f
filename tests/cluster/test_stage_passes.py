"""How run_shard_stages splits a cluster among the declared stages (no Ray started): with a
GPU per replica stage to spare, generation and scoring overlap with one scorer per 8
generators (as before the stage table) and verification joins them on a spare CPU;
otherwise each stage runs alone with the whole cluster, in declaration order, CPU last. And a
named cluster that does not answer is one line at once."""

from __future__ import annotations

import pytest

from cluster.schedule import _passes
from memx.config import parse_config
from memx.plan import ShardSpec
from memx.pipeline.stages import SAMPLES, SCORES, VERIFIED

CONFIG = parse_config({"run_id": "p", "output": "/tmp/p", "target": {"model": "m"}})
TODO = {stage: [ShardSpec(stage, "top_k", i, 0, 1, 0) for i in range(40)] for stage in (SAMPLES, SCORES, VERIFIED)}


def _shape(passes):
    return [[(w.stage, w.placement.actors, w.after) for w in works] for works in passes]


@pytest.mark.parametrize("gpus", [2, 4, 9, 10, 18, 20, 64])
def test_with_gpus_generation_and_scoring_overlap_one_scorer_per_eight_generators(gpus):
    scorers = max(1, gpus // 9)  # the rule before the stage table: GENERATORS_PER_SCORER = 8
    passes = _passes(CONFIG, TODO, float(gpus), float(gpus + 1))
    assert _shape(passes) == [[(SAMPLES, gpus - scorers, None), (SCORES, scorers, SAMPLES), (VERIFIED, 1, SAMPLES)]]


def test_without_a_spare_cpu_verification_runs_after_with_every_core():
    passes = _passes(CONFIG, TODO, 4.0, 4.0)
    assert _shape(passes) == [[(SAMPLES, 3, None), (SCORES, 1, SAMPLES)], [(VERIFIED, 4, SAMPLES)]]


def test_cpu_only_runs_each_stage_alone_in_declaration_order():
    passes = _passes(CONFIG, TODO, 0.0, 8.0)
    assert _shape(passes) == [[(SAMPLES, 2, None)], [(SCORES, 2, SAMPLES)], [(VERIFIED, 8, SAMPLES)]]
    assert _passes(CONFIG, {SCORES: TODO[SCORES], SAMPLES: []}, 4.0, 8.0)[0][0].placement.actors == 4


def test_a_named_cluster_that_does_not_answer_is_one_line_within_seconds(monkeypatch):
    """RAY_ADDRESS naming a port nothing listens on: Ray alone would retry for many minutes."""
    import ray

    from cluster.schedule import connect
    from memx.errors import MemxFailure
    from tests.support.ray_head import free_port

    assert not ray.is_initialized()
    address = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("RAY_ADDRESS", address)
    with pytest.raises(MemxFailure, match=rf"^RAY_ADDRESS={address}: no Ray cluster answered there \(Connection refused\); "
                                          r"start it or unset RAY_ADDRESS"):
        connect()
    assert not ray.is_initialized()
