"""Where a run stands, from its manifests alone: planned, committed, missing, corrupt, failed.

Works while a job runs and after it died, because it reads nothing but the manifests,
the failure markers and (to detect corruption) the shard objects themselves. It does not
know how shards are produced.

Progress is counted in the stage's own unit (`Stage.unit`: what a shard spec's `size`
counts), done and planned alike, so the rate and the time left never mix two units: the
extraction stage plans documents and writes windows, and its rows are kept apart.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from memx.plan import ShardSpec
from memx.pipeline.run import Run
from memx.shards import FAILURE_ROOT, checksum_ok, committed_manifests, failure_key
from memx.pipeline.stages import stage_named, stages_of


@dataclass
class StageStatus:
    stage: str
    planned: int = 0
    committed: list[ShardSpec] = field(default_factory=list)
    missing: list[ShardSpec] = field(default_factory=list)
    corrupt: list[ShardSpec] = field(default_factory=list)
    failed: list[ShardSpec] = field(default_factory=list)
    unit: str = "samples"  # what units_planned and units_done count (the stage's `unit`)
    units_planned: int = 0
    units_done: int = 0  # the committed shards' sizes
    rows: int = 0  # rows of the committed shards (windows, for the extraction stage)
    busy_seconds: float = 0.0
    first_commit: float | None = None
    last_commit: float | None = None

    @property
    def todo(self) -> list[ShardSpec]:
        """What `resume` must (re)do: missing and corrupt shards."""
        return sorted(self.missing + self.corrupt)

    @property
    def units_per_second(self) -> float:
        """Committed units over the wall time between the first shard's start and the last commit."""
        if not self.first_commit or not self.last_commit or self.last_commit <= self.first_commit:
            return 0.0
        return self.units_done / (self.last_commit - self.first_commit)

    @property
    def seconds_left(self) -> float | None:
        rate = self.units_per_second
        remaining = self.units_planned - self.units_done
        return remaining / rate if rate > 0 and remaining > 0 else (0.0 if remaining <= 0 else None)


def stage_status(run: Run, stage: str, verify_checksums: bool = True,
                 specs: list[ShardSpec] | None = None) -> StageStatus:
    storage = run.storage
    specs = specs if specs is not None else run.plan(stage)
    manifests = committed_manifests(storage, stage)
    failed_keys = set(storage.list(f"{FAILURE_ROOT}/{stage}", suffix=".json"))
    status = StageStatus(stage, planned=len(specs), unit=stage_named(stage).unit,
                         units_planned=sum(s.size for s in specs))
    present = [(s, manifests[(s.strategy, s.index)]) for s in specs if (s.strategy, s.index) in manifests]
    with ThreadPoolExecutor(max_workers=8) as pool:
        intact = list(pool.map(lambda sm: checksum_ok(storage, *sm), present)) if verify_checksums else [True] * len(present)
    for (spec, manifest), ok in zip(present, intact):
        if not ok:
            status.corrupt.append(spec)
            continue
        status.committed.append(spec)
        status.units_done += spec.size
        status.rows += int(manifest["rows"])
        status.busy_seconds += float(manifest.get("seconds", 0.0))
        at = float(manifest.get("committed_at", 0.0))
        started = at - float(manifest.get("seconds", 0.0))
        status.first_commit = started if status.first_commit is None else min(status.first_commit, started)
        status.last_commit = at if status.last_commit is None else max(status.last_commit, at)
    committed = {(s.strategy, s.index) for s, _ in present}
    for spec in specs:
        if (spec.strategy, spec.index) in committed:
            continue
        status.missing.append(spec)
        if failure_key(spec) in failed_keys:
            status.failed.append(spec)
    return status


def run_status(run: Run, verify_checksums: bool = True) -> dict[str, StageStatus]:
    return {stage: stage_status(run, stage, verify_checksums) for stage in stages_of(run.config)}
