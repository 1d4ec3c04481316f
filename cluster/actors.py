"""The Ray actor that hosts one model replica, and how many of them a cluster gets.

`ShardActor` wraps a pure runner from `memx.pipeline.runners`: the models load once in the actor's
constructor, then the driver sends it shard spec after shard spec. Ray pins the actor
to its own GPU through `num_gpus`; on a CPU-only cluster it reserves CPU threads instead.
Restarts are not left to Ray (whose default for some pools is "forever"): the driver in
`cluster/pool.py` decides, with a bound.
"""

from __future__ import annotations

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
        run = Run.from_wire(run_wire)  # the driver's resolved storage, not one rebuilt from the config
        gpu_ids = ray.get_gpu_ids()
        device = "cuda" if gpu_ids and _cuda_available() else "cpu"
        self.runner = _import(runner)(run, device=device, num_threads=num_threads)
        self.info = {"pid": os.getpid(), "node_id": ray.get_runtime_context().get_node_id(),
                     "gpu_ids": [str(g) for g in gpu_ids], "device": device}

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
