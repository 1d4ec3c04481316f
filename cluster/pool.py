"""The driver-side shard queue: hands shard specs to free actors, with backpressure,
requeues the shards of an actor that dies, restarts that actor a bounded number of
times, and runs several stages at once when a later stage's shard depends on an
earlier stage's shard (scoring of a shard starts as soon as its samples are committed).

Only specs and small result dicts travel through Ray; shard data goes from each actor
straight to storage. This module knows Ray and the shape of a spec, not what a stage does.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

from cluster.actors import Placement, start_actor
from memx.errors import MemxFailure, StorageUnavailable
from memx.plan import ShardSpec
from memx.progress import StageProgress
from memx.runstate import Run
from memx.shards import record_failure

log = logging.getLogger(__name__)
IN_FLIGHT_PER_ACTOR = 2  # one running, one waiting: the actor never idles on a driver round trip


@dataclass
class StageWork:
    stage: str
    specs: list[ShardSpec]
    placement: Placement
    after: str | None = None  # a stage whose shard of the same (strategy, index) must be committed first
    max_restarts: int = 3  # per actor slot
    max_attempts: int = 3  # per shard
    runner: str | None = None  # `module:Class` of the shard runner; None = memx.stages' for the stage


@dataclass
class _Slot:
    stage: str
    index: int
    actor: object = None
    restarts: int = 0
    in_flight: int = 0
    retired: bool = False
    last_error: str = ""


@dataclass
class StageResult:
    stage: str
    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    rows: int = 0
    tokens: int = 0
    seconds: float = 0.0
    actor_restarts: int = 0
    records: list[dict] = field(default_factory=list)  # each shard's small result dict, as the actor returned it


def _cause(error: BaseException) -> BaseException:
    return getattr(error, "cause", None) or error


def run_stages(run: Run, works: list[StageWork], ready: set[tuple[str, str, int]] | None = None,
               show_progress: bool = True) -> dict[str, StageResult]:
    """Run every spec of every stage to a committed shard or a recorded failure.

    `ready` holds (stage, strategy, index) of shards already committed before this call, so
    dependent specs on them start at once.
    """
    storage = run.storage
    ready = set(ready or ())
    by_stage = {w.stage: w for w in works}
    results = {w.stage: StageResult(w.stage) for w in works}
    queues: dict[str, deque] = {w.stage: deque() for w in works}
    waiting: dict[str, list[ShardSpec]] = {w.stage: [] for w in works}
    attempts: dict[str, int] = {}
    for work in works:
        producing = {(s.strategy, s.index) for s in by_stage[work.after].specs} if work.after in by_stage else set()
        for spec in work.specs:
            blocked = (spec.strategy, spec.index) in producing and (work.after, spec.strategy, spec.index) not in ready
            (waiting if blocked else queues)[work.stage].append(spec)
    slots = [_Slot(w.stage, i) for w in works for i in range(w.placement.actors if w.specs else 0)]
    progress = {w.stage: StageProgress(f"{w.stage}", sum(s.size for s in w.specs)) if show_progress else None
                for w in works}
    in_flight: dict = {}
    started = time.time()

    def spawn(slot: _Slot) -> None:
        work = by_stage[slot.stage]
        slot.actor = start_actor(slot.stage, run, work.placement, work.runner)
        slot.in_flight = 0

    def release(stage: str, spec: ShardSpec) -> None:
        for work in works:
            if work.after == stage:
                for blocked in list(waiting[work.stage]):
                    if (blocked.strategy, blocked.index) == (spec.strategy, spec.index):
                        waiting[work.stage].remove(blocked)
                        queues[work.stage].append(blocked)

    def give_up(stage: str, spec: ShardSpec, message: str) -> None:
        results[stage].failed[spec.key] = message
        record_failure(storage, spec, message, attempts.get(spec.key, 0))
        # Dependents of a failed shard cannot run in this call; resume will pick them up.
        for work in works:
            if work.after == stage:
                waiting[work.stage] = [s for s in waiting[work.stage]
                                       if (s.strategy, s.index) != (spec.strategy, spec.index)]

    for slot in slots:
        spawn(slot)
    try:
        while True:
            for slot in slots:
                queue = queues[slot.stage]
                while not slot.retired and queue and slot.in_flight < IN_FLIGHT_PER_ACTOR:
                    spec = queue.popleft()
                    attempts[spec.key] = attempts.get(spec.key, 0) + 1
                    in_flight[slot.actor.run.remote(spec.to_dict())] = (slot, spec, slot.actor)
                    slot.in_flight += 1
            if not in_flight:
                stuck = {stage: q for stage, q in queues.items() if q}
                if stuck:
                    stage = next(iter(stuck))
                    dead = [s for s in slots if s.stage == stage]
                    reason = dead[0].last_error if dead else "no actor could be placed"
                    raise MemxFailure(f"{stage}: every actor failed and restarts are exhausted "
                                      f"({len(stuck[stage])} shards left); last error: {reason}")
                break
            done_refs, _ = ray.wait(list(in_flight), num_returns=1, timeout=60.0)
            for ref in done_refs:
                slot, spec, actor = in_flight.pop(ref)
                current = actor is slot.actor
                if current:
                    slot.in_flight -= 1
                work = by_stage[slot.stage]
                try:
                    result = ray.get(ref, timeout=30)
                except RayTaskError as error:
                    cause = _cause(error)
                    if isinstance(cause, StorageUnavailable):
                        raise MemxFailure(str(cause)) from None
                    message = f"{type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''}"
                    log.warning("%s failed (attempt %d): %s", spec.key, attempts[spec.key], message)
                    if attempts[spec.key] >= work.max_attempts:
                        give_up(slot.stage, spec, message)
                    else:
                        queues[slot.stage].appendleft(spec)
                    continue
                except (RayActorError, GetTimeoutError) as error:
                    slot.last_error = str(_cause(error)).strip().splitlines()[-1][:500] if str(error) else type(error).__name__
                    if attempts[spec.key] >= work.max_attempts + work.max_restarts:
                        give_up(slot.stage, spec, f"actor died {attempts[spec.key]} times: {slot.last_error}")
                    else:
                        queues[slot.stage].appendleft(spec)  # the shard was not committed: redo it
                    if current and not slot.retired:
                        _replace_dead_actor(slot, work, spawn, results)
                    continue
                results[slot.stage].done.append(spec.key)
                results[slot.stage].records.append(result)
                results[slot.stage].rows += int(result.get("rows", 0))
                results[slot.stage].tokens += int(result.get("tokens", 0))
                if progress[slot.stage] is not None:
                    progress[slot.stage].advance(spec.size, tokens=float(result.get("tokens", 0)))
                release(slot.stage, spec)
    finally:
        for bar in progress.values():
            if bar is not None:
                bar.close()
        for slot in slots:
            if slot.actor is not None:
                ray.kill(slot.actor, no_restart=True)
    elapsed = time.time() - started
    for result in results.values():
        result.seconds = elapsed
    return results


def _replace_dead_actor(slot: _Slot, work: StageWork, spawn, results: dict) -> None:
    """Restart the slot's actor within its bound; refs still pending on the dead one fail on
    their own and are requeued then, without restarting the fresh actor again."""
    ray.kill(slot.actor, no_restart=True)
    if slot.restarts >= work.max_restarts:
        slot.retired = True
        log.error("%s actor %d retired after %d restarts: %s", slot.stage, slot.index, slot.restarts, slot.last_error)
        return
    slot.restarts += 1
    results[slot.stage].actor_restarts += 1
    log.warning("%s actor %d died (%s); restarting (%d/%d)", slot.stage, slot.index, slot.last_error,
                slot.restarts, work.max_restarts)
    spawn(slot)
