"""What every Ray job entrypoint shares: connecting to Ray, deciding what is left to do
from the manifests, and splitting the cluster between the stages `memx.pipeline.stages`
declares (which run on model replicas, which on spare CPUs, what runs after what).

The address comes from `RAY_ADDRESS` (set by `ray job submit` and by users), else a local
Ray is started for this process and stopped with it.
"""

from __future__ import annotations

import logging
import os
import socket
import time

import ray

from cluster.actors import IdleActors, Placement, cluster_resources, plan_placement
from cluster.pool import StageResult, StageWork, run_stages
from memx.config import Config
from memx.errors import MemxFailure
from memx.pipeline.checks import check_inputs
from memx.plan import ShardSpec
from memx.pipeline.run import Run, start_run
from memx.shards import manifest_key
from memx.pipeline.stages import STAGES, Stage, stage_named, stages_of
from memx.pipeline.status import stage_status

log = logging.getLogger(__name__)


# glibc gives large freed buffers back to the kernel and page-faults them in again on the next
# forward; a model replica frees and reallocates the same activation-sized buffers every batch
# (peft's LoRA temporaries: a full-size tensor per adapted linear). Keeping them in the heap
# took adapter scoring at GPT-2 width from 1.22x to 1.01x of two plain models
# (docs/benchmarks.md, the adapter row). A MALLOC_* the user set for the job wins.
ALLOCATOR_ENV = {"MALLOC_MMAP_THRESHOLD_": "1000000000", "MALLOC_TRIM_THRESHOLD_": "1000000000",
                 "MALLOC_TOP_PAD_": "536870912"}


def job_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment variables the job's workers (every replica) start with.

    memx's own knobs (MEMX_*) follow the job to its actors; credentials never do: the
    cluster's nodes get theirs from their own environment, profile or role. Set for the whole
    job rather than per actor, so an actor can take one of the workers Ray starts ahead."""
    environ = os.environ if environ is None else environ
    return {**{k: v for k, v in ALLOCATOR_ENV.items() if k not in environ},
            **{k: v for k, v in environ.items() if k.startswith(("MEMX_", "MALLOC_"))}}


def _unreachable(address: str, attempts: int = 3, timeout: float = 5.0) -> str | None:
    """Why nothing listens at a `host:port` address, or None. Ray itself retries a closed port
    for many minutes before it gives up; a few bounded TCP tries, with backoff, say it at once."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return None  # "auto" and other forms Ray resolves itself
    error: OSError | None = None
    for attempt in range(attempts):
        try:
            socket.create_connection((host, int(port)), timeout=timeout).close()
            return None
        except OSError as failed:
            error = failed
            if attempt + 1 < attempts:
                time.sleep(0.5 * 2 ** attempt)
    return error.strerror or type(error).__name__


def connect() -> bool:
    """Connect to the cluster in RAY_ADDRESS or start a local one. True if we started it."""
    if ray.is_initialized():
        return False
    runtime_env = {"env_vars": job_env()}
    address = os.environ.get("RAY_ADDRESS")
    if address:
        problem = _unreachable(address)
        if problem is None:
            try:
                ray.init(address=address, logging_level=logging.WARNING, log_to_driver=True, runtime_env=runtime_env)
                return False
            except ConnectionError as error:  # Ray's own traceback says less than this line
                problem = str(error).splitlines()[0]
        raise MemxFailure(f"RAY_ADDRESS={address}: no Ray cluster answered there ({problem}); "
                          f"start it or unset RAY_ADDRESS, then run the command again")
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


def _gpu_shares(config: Config, replicas: list[Stage], gpus: float) -> dict[str, float]:
    """Shares of the GPUs for replica stages that run at once, in proportion to their
    `gpu_weight` with at least one replica each; the heaviest takes what the others leave."""
    per, total = config.cluster.gpus_per_actor, int(gpus // config.cluster.gpus_per_actor)
    weight = sum(stage.gpu_weight for stage in replicas)
    heaviest = max(replicas, key=lambda stage: stage.gpu_weight)
    shares = {stage.name: max(1, total * stage.gpu_weight // weight) * per / gpus
              for stage in replicas if stage is not heaviest}
    shares[heaviest.name] = 1.0 - sum(shares.values())
    return shares


def _cpu_placement(cpus_free: float, shards: int) -> Placement:
    """A CPU stage (verification: numpy over a memory-mapped index): one single-threaded actor per CPU."""
    actors = max(1, min(int(cpus_free), shards))
    return Placement(actors, 0.0, 1.0, 1)


def _passes(config: Config, todo: dict[str, list[ShardSpec]], gpus: float, cpus: float) -> list[list[StageWork]]:
    """The calls of the queue, in order, each a list of stages that run side by side.

    With a GPU per replica stage to spare, the replica stages overlap (a shard starts as
    soon as the one it runs after is committed) and CPU stages join them on the CPUs the
    replicas leave free. Otherwise each stage runs alone with the whole cluster, in
    declaration order, CPU stages last with every core."""
    replicas = [s for s in STAGES if s.actors == "replicas" and todo.get(s.name)]
    cpu_stages = [s for s in STAGES if s.actors == "cpu" and todo.get(s.name)]
    passes: list[list[StageWork]] = []
    if len(replicas) >= 2 and gpus >= len(replicas) * config.cluster.gpus_per_actor:
        shares = _gpu_shares(config, replicas, gpus)
        works = [StageWork(s.name, todo[s.name], plan_placement(config, shares[s.name], gpus, cpus), after=s.after)
                 for s in replicas]
        spare = cpus - sum(w.placement.actors * w.placement.num_cpus for w in works)
        for stage in list(cpu_stages):
            if spare >= 1:  # an actor with no CPU to get would wait for ever
                place = _cpu_placement(spare, len(todo[stage.name]))
                works.append(StageWork(stage.name, todo[stage.name], place, after=stage.after))
                spare -= place.actors
                cpu_stages.remove(stage)
        passes.append(works)
    else:
        whole = plan_placement(config, 1.0, gpus, cpus)
        passes += [[StageWork(s.name, todo[s.name], whole, after=s.after)] for s in replicas]
    passes += [[StageWork(s.name, todo[s.name], _cpu_placement(cpus, len(todo[s.name])), after=s.after)]
               for s in cpu_stages]
    return passes


def _refuse_unready(run: Run, wanted: tuple[str, ...], todo: dict[str, list[ShardSpec]], ready: set) -> None:
    """A stage asked for alone needs the shards it runs after committed already."""
    for name in wanted:
        after = stage_named(name).after
        if after is None or after in wanted:
            continue
        unready = [s for s in todo[name] if (after, s.strategy, s.index) not in ready]
        if unready:
            raise MemxFailure(f"{len(unready)} {after} shards are not committed yet (e.g. "
                              f"{unready[0].in_stage(after).key}); run `memx resume {run.uri}` first")


def run_shard_stages(run: Run, stages: tuple[str, ...] | None = None,
                     show_progress: bool = True) -> dict[str, StageResult]:
    """Run what is missing or corrupt in the given sharded stages (default: all the run has).

    With GPUs to spare, scoring overlaps generation and verification runs on the CPUs the
    model replicas leave free, each shard as soon as its samples are committed. On a CPU-only
    cluster the stages run one after another, each with every core (`_passes`).
    """
    in_run = stages_of(run.config)
    wanted = tuple(s for s in (stages or in_run) if s in in_run)
    statuses = {stage: stage_status(run, stage) for stage in in_run}
    for status in statuses.values():
        for spec in status.corrupt:  # a corrupt shard is redone: its manifest must go first
            log.warning("%s is corrupt (checksum mismatch); redoing it", spec.key)
            run.storage.delete(manifest_key(spec))
    ready = {(stage, s.strategy, s.index) for stage, status in statuses.items() for s in status.committed}
    todo = {stage: statuses[stage].todo for stage in wanted}
    _refuse_unready(run, wanted, todo, ready)
    results: dict[str, StageResult] = {}
    idle = IdleActors()  # a pass's replicas host the next pass's runner: no new processes per stage
    try:
        for works in _passes(run.config, todo, *cluster_resources()):
            results.update(run_stages(run, works, ready, show_progress, idle))
    finally:
        idle.close()
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
