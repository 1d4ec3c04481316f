"""What every Ray job entrypoint shares: connecting to Ray, deciding what is left to do
from the manifests, and splitting the cluster between generation and scoring.

The address comes from `RAY_ADDRESS` (set by `ray job submit` and by users), else a local
Ray is started for this process and stopped with it.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Callable

import ray

from cluster.actors import Placement, cluster_resources, plan_placement
from cluster.pool import StageResult, StageWork, run_stages
from memx.config import Config
from memx.errors import MemxFailure
from memx.inputs import check_inputs
from memx.plan import stages_of
from memx.runstate import Run, start_run
from memx.shards import manifest_key
from memx.status import stage_status

log = logging.getLogger(__name__)

# Scoring costs one forward pass per model over a sample that took `max_new_tokens`
# sequential passes to generate, so one scorer keeps up with many generators.
GENERATORS_PER_SCORER = 8


def connect() -> bool:
    """Connect to the cluster in RAY_ADDRESS or start a local one. True if we started it."""
    if ray.is_initialized():
        return False
    # memx's own knobs (MEMX_*) follow the job to its actors; credentials never do: the
    # cluster's nodes get theirs from their own environment, profile or role.
    runtime_env = {"env_vars": {k: v for k, v in os.environ.items() if k.startswith("MEMX_")}}
    address = os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=True, runtime_env=runtime_env)
        return False
    # A Ray of our own lives on loopback and dies with this process; Ray's notice that it
    # turned token authentication on for it is about Ray, not the run: keep it out of memx's output.
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    # "local": always a Ray of our own. Left to itself Ray would join whatever cluster it
    # finds on this machine, and in Ray 2.60 actors created through that auto-join were
    # cancelled before they ran; a cluster is used when it is named, never by accident.
    ray.init(address="local", include_dashboard=False, logging_level=logging.WARNING, log_to_driver=True,
             runtime_env=runtime_env)
    return True


def disconnect(started_here: bool) -> None:
    if started_here and ray.is_initialized():
        ray.shutdown()


def _placements(config: Config, overlap: bool, gpus: float, cpus: float) -> tuple[Placement, Placement, bool]:
    whole = plan_placement(config, 1.0, gpus, cpus)
    per = config.cluster.gpus_per_actor
    if overlap and gpus >= 2 * per:
        scorers = max(1, int(gpus // per) // (GENERATORS_PER_SCORER + 1))
        scorer_share = scorers * per / gpus
        return (plan_placement(config, 1.0 - scorer_share, gpus, cpus),
                plan_placement(config, scorer_share, gpus, cpus), True)
    return whole, whole, False


def _verify_placement(cpus_free: float, shards: int) -> Placement:
    """Verification is numpy over a memory-mapped index: one single-threaded actor per CPU."""
    actors = max(1, min(int(cpus_free), shards))
    return Placement(actors, 0.0, 1.0, 1)


def run_shard_stages(run: Run, stages: tuple[str, ...] | None = None,
                     show_progress: bool = True) -> dict[str, StageResult]:
    """Run what is missing or corrupt in the given sharded stages (default: all the run has).

    With GPUs to spare, scoring overlaps generation and verification runs on the CPUs the
    model replicas leave free, each shard as soon as its samples are committed. On a CPU-only
    cluster the stages run one after another, each with every core.
    """
    storage, config = run.storage, run.config
    stages = tuple(s for s in (stages or stages_of(config)) if s in stages_of(config))
    statuses = {stage: stage_status(run, stage) for stage in stages_of(config)}
    for status in statuses.values():
        for spec in status.corrupt:  # a corrupt shard is redone: its manifest must go first
            log.warning("%s is corrupt (checksum mismatch); redoing it", spec.key)
            storage.delete(manifest_key(spec))
    ready = {("samples", s.strategy, s.index) for s in statuses["samples"].committed}
    todo = {stage: statuses[stage].todo if stage in stages else [] for stage in statuses}
    if "samples" not in stages:
        unready = [s for stage in ("scores", "verified") for s in todo.get(stage, [])
                   if ("samples", s.strategy, s.index) not in ready]
        if unready:
            raise MemxFailure(f"{len(unready)} sample shards are not committed yet (e.g. {unready[0].strategy}/"
                              f"{unready[0].name}); run `memx generate` or `memx resume {run.uri}` first")
    gpus, cpus = cluster_resources()
    gen_place, score_place, overlapped = _placements(config, bool(todo["samples"] and todo["scores"]), gpus, cpus)
    verify_todo = todo.get("verified", [])
    results: dict[str, StageResult] = {}
    if overlapped:
        works = [StageWork("samples", todo["samples"], gen_place),
                 StageWork("scores", todo["scores"], score_place, after="samples")]
        spare = cpus - (gen_place.actors * gen_place.num_cpus + score_place.actors * score_place.num_cpus)
        if verify_todo and spare >= 1:  # an actor with no CPU to get would wait for ever
            works.append(StageWork("verified", verify_todo, _verify_placement(spare, len(verify_todo)),
                                   after="samples"))
            verify_todo = []
        results.update(run_stages(run, works, ready, show_progress))
    else:
        for stage, place in (("samples", gen_place), ("scores", score_place)):
            if todo[stage]:
                results.update(run_stages(run, [StageWork(stage, todo[stage], place)], ready, show_progress))
    if verify_todo:  # CPU-only, or no CPU left beside the model replicas: after them, with every core
        place = _verify_placement(cpus, len(verify_todo))
        results.update(run_stages(run, [StageWork("verified", verify_todo, place)], ready, show_progress))
    failed = {key: msg for r in results.values() for key, msg in r.failed.items()}
    if failed:
        key, message = next(iter(failed.items()))
        raise MemxFailure(f"{len(failed)} shards failed after bounded retries (first: {key}: {message}); "
                          f"fix the cause, then run `memx resume {run.uri}`")
    return results


def start_and_run(run: Run, stages: tuple[str, ...] | None = None,
                  show_progress: bool = True) -> dict[str, StageResult]:
    """Every entrypoint's way in: refuse missing local models before anything is written,
    save or check config.json, then run what is missing of `stages` on Ray."""
    check_inputs(run, local_paths=not os.environ.get("RAY_ADDRESS"))
    start_run(run)
    started_here = connect()
    try:
        return run_shard_stages(run, stages, show_progress=show_progress)
    finally:
        disconnect(started_here)


def job_main(argv: list[str] | None, description: str, work: Callable[[Run], object]) -> int:
    """A `python -m jobs.X CONFIG` entrypoint (what a Ray job runs): the run at the config's
    `{output}/{run_id}`, `work` on it, and memx's exit codes (jobs.exits)."""
    import argparse

    from jobs.exits import exit_code_of
    from memx.config import load_config
    from memx.runstate import new_run

    parser = argparse.ArgumentParser(description=description.strip().splitlines()[0])
    parser.add_argument("config", help="YAML config (SPEC §3)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    def job() -> None:
        run = new_run(load_config(args.config))
        work(run)
        print(f"done: {run.uri}")

    return exit_code_of(job)
