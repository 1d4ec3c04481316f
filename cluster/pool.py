"""The driver-side shard queue: hands shard specs to free actors, with backpressure,
requeues the shards of an actor that dies, restarts that actor a bounded number of
times, and runs several stages at once when a later stage's shard depends on an
earlier stage's shard (scoring of a shard starts as soon as its samples are committed).

Only specs and small result dicts travel through Ray; shard data goes from each actor
straight to storage. This module knows Ray and the shape of a spec, not what a stage does:
which runner a stage's actors host comes from `memx.pipeline.stages`, what runs after what from
the StageWork it is given.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

from cluster.actors import IdleActors, Placement, start_actor
from memx.errors import MemxFailure, StorageUnavailable
from memx.plan import ShardSpec
from memx.progress import StageProgress
from memx.pipeline.run import Run
from memx.shards import record_failure
from memx.pipeline.stages import stage_named

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
    runner: str | None = None  # `module:Class` of the shard runner; None = the stage's (memx.pipeline.stages)


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
    seconds: float = 0.0
    actor_restarts: int = 0
    records: list[dict] = field(default_factory=list)  # each shard's small result dict, as the actor returned it


def _cause(error: BaseException) -> BaseException:
    return getattr(error, "cause", None) or error


def _last_line(error: BaseException) -> str:
    """What an actor's failure says in its last line (Ray's own traceback comes before it)."""
    return str(_cause(error)).strip().splitlines()[-1] if str(error) else type(error).__name__


class ShardQueue:
    """One call's queue: per stage the specs ready to run and those waiting for the shard
    they run after; per actor slot what it has in flight. `run()` loops over Ray's
    completions and hands each to one method per event: `submit`, `done`, `task_failed`,
    `actor_died`."""

    def __init__(self, run: Run, works: list[StageWork], ready: set[tuple[str, str, int]], show_progress: bool,
                 idle: IdleActors | None = None):
        self.run, self.idle = run, idle
        self.works = {w.stage: w for w in works}
        self.results = {w.stage: StageResult(w.stage) for w in works}
        self.queues: dict[str, deque[ShardSpec]] = {w.stage: deque() for w in works}
        # per stage, (strategy, index) -> a spec whose shard in `work.after` is not committed yet
        self.waiting: dict[str, dict[tuple[str, int], ShardSpec]] = {w.stage: {} for w in works}
        self.attempts: dict[str, int] = {}
        self.in_flight: dict = {}  # ref -> (slot, spec, the actor it was sent to)
        for work in works:
            producing = ({(s.strategy, s.index) for s in self.works[work.after].specs}
                         if work.after in self.works else set())
            for spec in work.specs:
                if (spec.strategy, spec.index) in producing and (work.after, spec.strategy, spec.index) not in ready:
                    self.waiting[work.stage][(spec.strategy, spec.index)] = spec
                else:
                    self.queues[work.stage].append(spec)
        self.slots = [_Slot(w.stage, i) for w in works for i in range(w.placement.actors if w.specs else 0)]
        self.progress = {w.stage: StageProgress(w.stage, sum(s.size for s in w.specs), unit=stage_named(w.stage).unit)
                         if show_progress else None for w in works}

    # -- actors ---------------------------------------------------------------
    def spawn(self, slot: _Slot) -> None:
        work = self.works[slot.stage]
        slot.actor = start_actor(self._runner(slot), self.run, work.placement)
        slot.in_flight = 0

    def spawn_all(self) -> None:
        """An actor for every slot: an idle one of the same placement rehosted, else a new one.
        Idle actors no slot takes are killed first, so their reservation is free for the new
        ones. Rehosting loads every slot's models at once and waits for them; an actor that
        cannot take the runner is replaced by a fresh one, which then fails (or not) as any new actor."""
        hosting = []
        for slot in self.slots:
            actor = self.idle.take(self.works[slot.stage].placement) if self.idle is not None else None
            if actor is not None:
                slot.actor, slot.in_flight = actor, 0
                hosting.append((slot, actor.host.remote(self._runner(slot))))
        if self.idle is not None:
            self.idle.close()
        for slot in self.slots:
            if slot.actor is None:
                self.spawn(slot)
        for slot, ref in hosting:
            try:
                ray.get(ref)
            except (RayTaskError, RayActorError) as error:
                log.warning("%s actor %d could not take over (%s); starting a fresh one", slot.stage, slot.index,
                            _last_line(error)[:200])
                ray.kill(slot.actor, no_restart=True)
                self.spawn(slot)

    def _runner(self, slot: _Slot) -> str:
        work = self.works[slot.stage]
        return work.runner or stage_named(work.stage).runner

    def stop(self, keep: bool = False) -> None:
        """Close the progress bars; hand the live actors to `idle` when `keep` (the call
        finished cleanly and a later stage may rehost them), else kill them."""
        for bar in self.progress.values():
            if bar is not None:
                bar.close()
        for slot in self.slots:
            if slot.actor is None:
                continue
            if keep and self.idle is not None and not slot.retired:
                self.idle.put(self.works[slot.stage].placement, slot.actor)
            else:
                ray.kill(slot.actor, no_restart=True)

    # -- events ---------------------------------------------------------------
    def submit(self) -> None:
        """Fill every live actor up to IN_FLIGHT_PER_ACTOR from its stage's queue."""
        for slot in self.slots:
            queue = self.queues[slot.stage]
            while not slot.retired and queue and slot.in_flight < IN_FLIGHT_PER_ACTOR:
                spec = queue.popleft()
                self.attempts[spec.key] = self.attempts.get(spec.key, 0) + 1
                self.in_flight[slot.actor.run.remote(spec.to_dict())] = (slot, spec, slot.actor)
                slot.in_flight += 1

    def done(self, slot: _Slot, spec: ShardSpec, result: dict) -> None:
        """A committed shard: count it, and release what runs after it."""
        stage = self.results[slot.stage]
        stage.done.append(spec.key)
        stage.records.append(result)
        stage.rows += int(result.get("rows", 0))
        if self.progress[slot.stage] is not None:
            self.progress[slot.stage].advance(spec.size, tokens=float(result.get("tokens", 0)))
        for dependent in self._dependents(slot.stage):
            blocked = self.waiting[dependent].pop((spec.strategy, spec.index), None)
            if blocked is not None:
                self.queues[dependent].append(blocked)

    def task_failed(self, slot: _Slot, spec: ShardSpec, error: RayTaskError) -> None:
        """The runner raised: retried up to max_attempts; a store that is down ends the call."""
        cause = _cause(error)
        if isinstance(cause, StorageUnavailable):
            raise MemxFailure(str(cause)) from None
        message = f"{type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''}"
        log.warning("%s failed (attempt %d): %s", spec.key, self.attempts[spec.key], message)
        if self.attempts[spec.key] >= self.works[slot.stage].max_attempts:
            self._give_up(slot.stage, spec, message)
        else:
            self.queues[slot.stage].appendleft(spec)

    def actor_died(self, slot: _Slot, spec: ShardSpec, current: bool, error: BaseException) -> None:
        """The shard was not committed: redo it; restart the actor within its bound."""
        work = self.works[slot.stage]
        slot.last_error = _last_line(error)[:500]
        if self.attempts[spec.key] >= work.max_attempts + work.max_restarts:
            self._give_up(slot.stage, spec, f"actor died {self.attempts[spec.key]} times: {slot.last_error}")
        else:
            self.queues[slot.stage].appendleft(spec)
        if current and not slot.retired:
            self._replace_dead_actor(slot)

    # -- the loop -------------------------------------------------------------
    def run_all(self) -> dict[str, StageResult]:
        started = time.time()
        finished_cleanly = False
        try:
            self.spawn_all()
            while True:
                self.submit()
                if not self.in_flight:
                    self._raise_if_stuck()
                    break
                finished, _ = ray.wait(list(self.in_flight), num_returns=1, timeout=60.0)
                for ref in finished:
                    self._collect(ref)
            finished_cleanly = True
        finally:
            self.stop(keep=finished_cleanly)
        elapsed = time.time() - started
        for result in self.results.values():
            result.seconds = elapsed  # one wall time: the stages of a call ran side by side
        return self.results

    def _collect(self, ref) -> None:
        slot, spec, actor = self.in_flight.pop(ref)
        current = actor is slot.actor  # refs still pending on a replaced actor fail on their own
        if current:
            slot.in_flight -= 1
        try:
            result = ray.get(ref, timeout=30)
        except RayTaskError as error:
            self.task_failed(slot, spec, error)
        except (RayActorError, GetTimeoutError) as error:
            self.actor_died(slot, spec, current, error)
        else:
            self.done(slot, spec, result)

    def _raise_if_stuck(self) -> None:
        stuck = {stage: queue for stage, queue in self.queues.items() if queue}
        if stuck:
            stage = next(iter(stuck))
            slots = [s for s in self.slots if s.stage == stage]
            reason = slots[0].last_error if slots else "no actor could be placed"
            raise MemxFailure(f"{stage}: every actor failed and restarts are exhausted "
                              f"({len(stuck[stage])} shards left); last error: {reason}")

    def _dependents(self, stage: str) -> list[str]:
        return [w.stage for w in self.works.values() if w.after == stage]

    def _give_up(self, stage: str, spec: ShardSpec, message: str) -> None:
        self.results[stage].failed[spec.key] = message
        record_failure(self.run.storage, spec, message, self.attempts.get(spec.key, 0))
        for dependent in self._dependents(stage):  # they cannot run in this call; resume picks them up
            self.waiting[dependent].pop((spec.strategy, spec.index), None)

    def _replace_dead_actor(self, slot: _Slot) -> None:
        """Restart the slot's actor within its bound; refs still pending on the dead one fail on
        their own and are requeued then, without restarting the fresh actor again."""
        work = self.works[slot.stage]
        ray.kill(slot.actor, no_restart=True)
        if slot.restarts >= work.max_restarts:
            slot.retired = True
            log.error("%s actor %d retired after %d restarts: %s", slot.stage, slot.index, slot.restarts,
                      slot.last_error)
            return
        slot.restarts += 1
        self.results[slot.stage].actor_restarts += 1
        log.warning("%s actor %d died (%s); restarting (%d/%d)", slot.stage, slot.index, slot.last_error,
                    slot.restarts, work.max_restarts)
        self.spawn(slot)


def run_stages(run: Run, works: list[StageWork], ready: set[tuple[str, str, int]] | None = None,
               show_progress: bool = True, idle: IdleActors | None = None) -> dict[str, StageResult]:
    """Run every spec of every stage to a committed shard or a recorded failure.

    `ready` holds (stage, strategy, index) of shards already committed before this call, so
    dependent specs on them start at once. With `idle`, actors come from it when one of the
    same placement is there, and go back to it when the call ends cleanly (else they are killed).
    """
    return ShardQueue(run, works, set(ready or ()), show_progress, idle).run_all()
