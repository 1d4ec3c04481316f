"""The Ray actor that hosts one model replica, and how many of them a cluster gets.

`ShardActor` wraps a pure runner from `memx.pipeline.runners`: the models load once when the
actor takes the runner, then the driver sends it shard spec after shard spec. When a call's
stages run one after another on the same reservation (a CPU-only cluster, or fewer GPUs than
stages), the next stage's actors are the previous stage's processes hosting a new runner
(`IdleActors`): starting a process imports torch and transformers again, seconds of CPU per
actor, where a new runner only loads its models. Ray pins the actor to its own GPU through
`num_gpus`; on a CPU-only cluster it reserves CPU threads instead. Restarts are not left to
Ray (whose default for some pools is "forever"): the driver in `cluster/pool.py` decides,
with a bound.
"""

from __future__ import annotations

import gc
import importlib
import math
import os
from dataclasses import dataclass

import ray

from memx.config import Config
from memx.plan import ShardSpec
from memx.pipeline.run import Run


class ShardActor:
    def __init__(self, runner: str, run_wire: dict, num_threads: int | None = None):
        self.run_wire, self.num_threads = run_wire, num_threads
        gpu_ids = ray.get_gpu_ids()
        self.device = "cuda" if gpu_ids and _cuda_available() else "cpu"
        self.info = {"pid": os.getpid(), "node_id": ray.get_runtime_context().get_node_id(),
                     "gpu_ids": [str(g) for g in gpu_ids], "device": self.device}
        self.runner_name, self.runner = None, None
        self.host(runner)

    def host(self, runner: str) -> dict:
        """Host `runner` (`module:Class`) over the same run from now on. The runner hosted before
        goes first, its models with it, so a replica never holds two stages' weights at once."""
        if runner != self.runner_name:
            self.runner_name, self.runner = None, None
            gc.collect()
            if self.device == "cuda":
                import torch

                torch.cuda.empty_cache()
            # the driver's resolved storage, not one rebuilt from the config
            self.runner = _import(runner)(Run.from_wire(self.run_wire), device=self.device,
                                          num_threads=self.num_threads)
            self.runner_name = runner
        return {**self.info, "runner": runner}

    def run(self, spec: dict) -> dict:
        result = self.runner.run(ShardSpec(**spec))
        result["pid"] = self.info["pid"]
        return result


def _import(path: str):
    """`package.module:Name` -> the object; runners are named, not pickled, so actors import them."""
    module_name, _, attr = path.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


@dataclass(frozen=True)
class Placement:
    """How many replicas of a stage run, and what each one reserves."""

    actors: int
    num_gpus: float
    num_cpus: float
    threads: int


def cluster_resources() -> tuple[float, float]:
    resources = ray.cluster_resources()
    return float(resources.get("GPU", 0.0)), float(resources.get("CPU", 1.0))


def plan_placement(config: Config, share: float = 1.0, gpus: float | None = None, cpus: float | None = None) -> Placement:
    """Replicas for a stage that may use `share` of the cluster.

    GPUs: one replica per `gpus_per_actor` GPUs (default one per GPU, never a fractional actor
    beside a whole one unless the config asks). CPU-only: replicas of up to 4 threads each,
    since one small model per core pair batches better than many single-threaded ones.
    """
    if gpus is None or cpus is None:
        gpus, cpus = cluster_resources()
    wanted = config.cluster.actors
    if gpus > 0:
        per = config.cluster.gpus_per_actor
        fit = int(math.floor(gpus * share / per + 1e-9))
        actors = max(1, fit if wanted == "auto" else min(int(wanted), max(fit, 1)))
        return Placement(actors, per, 1.0, max(1, int(cpus // max(actors, 1)) or 1))
    usable = max(1.0, cpus * share)
    if wanted == "auto":
        actors = max(1, int(usable // 4))
    else:
        actors = max(1, min(int(wanted), int(usable)))
    threads = max(1, int(usable // actors))
    return Placement(actors, 0.0, float(threads), threads)


def start_actor(runner: str, run: Run, placement: Placement):
    """An actor hosting `runner` (`module:Class`) over the run, with the placement's reservation."""
    remote_cls = ray.remote(ShardActor)
    options = {"num_gpus": placement.num_gpus, "num_cpus": placement.num_cpus, "max_restarts": 0,
               "max_task_retries": 0, "max_concurrency": 1}
    return remote_cls.options(**options).remote(runner, run.to_wire(), placement.threads)


class IdleActors:
    """Actors a finished stage left alive, by placement, for a later stage of the same call to
    rehost (`ShardActor.host`) instead of starting processes of its own. An idle actor keeps its
    reservation, so a stage kills what it does not take (`close`) before it starts new ones, and
    the call kills what is left. Only healthy actors come here: a stage that ends in an error
    kills its own."""

    def __init__(self):
        self._free: dict[Placement, list] = {}

    def put(self, placement: Placement, actor) -> None:
        self._free.setdefault(placement, []).append(actor)

    def take(self, placement: Placement):
        free = self._free.get(placement)
        return free.pop() if free else None

    def close(self) -> None:
        for actors in self._free.values():
            for actor in actors:
                ray.kill(actor, no_restart=True)
        self._free.clear()
