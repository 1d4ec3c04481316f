"""Test-only shard runners, importable by Ray workers by name (`tests.cluster.runners:...`)."""

from __future__ import annotations

import os
import time

from memx.plan import ShardSpec
from memx.pipeline.run import Run


class WhereAmIRunner:
    """Loads nothing; reports the process and the GPU ids Ray gave the actor."""

    def __init__(self, run: Run, device: str | None = None, num_threads: int | None = None):
        import ray

        self.gpu_ids = [str(g) for g in ray.get_gpu_ids()]
        self.node_id = ray.get_runtime_context().get_node_id()

    def run(self, spec: ShardSpec) -> dict:
        time.sleep(0.5)  # hold the actor long enough for every replica to be busy at once
        return {"shard": spec.key, "rows": 0, "node_id": self.node_id, "gpu_ids": self.gpu_ids, "pid": os.getpid(),
                "malloc": {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")}}


class BrokenModelRunner:
    """A model that fails to load: the pool must give up after bounded restarts, not loop."""

    def __init__(self, run: Run, device: str | None = None, num_threads: int | None = None):
        raise OSError(f"{run.config.target.model}: model weights are corrupt")

    def run(self, spec: ShardSpec) -> dict:  # never reached
        raise AssertionError


class SlowVerifyRunner:
    """The real VerifyRunner, made to spend a moment inside each shard so a test can kill it
    there (a real shard of the tiny family verifies in milliseconds)."""

    def __new__(cls, run: Run, device: str | None = None, num_threads: int | None = None):
        from memx.pipeline.runners import VerifyRunner

        class Slow(VerifyRunner):
            def rows(self, spec: ShardSpec):
                time.sleep(0.6)
                return super().rows(spec)

        return Slow(run, device, num_threads)
