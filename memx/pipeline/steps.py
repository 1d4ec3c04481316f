"""The whole-run steps, declared once: what each writes at the run root, whether a run has it
(a function of the config), what it needs (sharded stages, other steps), and how it is made
(run -> the log lines that say what it found).

They run on the driver once the sharded stages are committed, in declaration order (a step
comes after every step it needs); each is a pure function of committed shards and earlier
steps' objects, so rerunning one is always safe. `run_steps` (memx run / resume / verify /
extract), `finished` (resume) and `step_status` (memx status) read this table and nothing
else; adding an output is one `Step` here plus the function that makes it. It knows no Ray.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from memx.config import Config
from memx.pipeline.run import Run
from memx.pipeline.stages import EXTRACTION, MEMBERSHIP, SAMPLES, SCORES, VERIFIED, stages_of


@dataclass(frozen=True)
class Options:
    """How the steps run this time: `redact` masks personal data in the report; `report_extra`
    are sections the report adds (memx.report.html.Section), or a function of the run that makes them once every
    stage is done (the demo's lab audit, its canaries' p_z)."""

    redact: bool = True
    report_extra: list | Callable[[Run], list] | None = None


@dataclass(frozen=True)
class Step:
    name: str
    key: str  # the object it writes at the run root
    in_run: Callable[[Config], bool]  # whether a run with this config has the step
    make: Callable[[Run, Options], list[str]]  # writes `key`; returns lines for the log
    needs_stages: tuple[str, ...] = ()  # sharded stages whose shards it reads (those the run has)
    needs_steps: tuple[str, ...] = ()  # steps declared before it whose objects it reads
    done: Callable[[Run], bool] | None = None  # whether it is written (default: `key` exists)
    timing: str | None = None  # the entry of run_pipeline's timings it counts towards

    def is_done(self, run: Run) -> bool:
        return self.done(run) if self.done is not None else run.storage.exists(self.key)


def _extraction(run: Run, options: Options) -> list[str]:
    from memx.pipeline.extraction_results import EXTRACTION_KEY, extraction_stage
    from memx.report.extraction import extraction_headline

    return [*extraction_headline(extraction_stage(run)), f"extraction: {run.storage.uri(EXTRACTION_KEY)}"]


def _candidates(run: Run, options: Options) -> list[str]:
    from memx.pipeline.candidates import reduce_stage

    return [f"reduce: {reduce_stage(run).num_rows} candidate rows"]


def _verify(run: Run, options: Options) -> list[str]:
    from memx.pipeline.candidates import verify_stage

    candidates = verify_stage(run)
    return [f"verify: {candidates.num_rows} candidate rows, {sum(candidates.column('memorized').to_pylist())} memorized"]


def _verified(run: Run) -> bool:
    from memx.pipeline.candidates import CANDIDATES_KEY, read_table

    return run.storage.exists(CANDIDATES_KEY) and "memorized" in read_table(run.storage, CANDIDATES_KEY).column_names


def _memorization(run: Run, options: Options) -> list[str]:
    from memx.pipeline.memorization import MEMORIZATION_KEY, memorization_stage

    strategies = memorization_stage(run).strategies.values()
    memorized, total = sum(s.memorized for s in strategies), sum(s.samples for s in strategies)
    return [f"memorization: {memorized} of {total} samples hold a memorized span ({run.storage.uri(MEMORIZATION_KEY)})"]


def _discoverable(run: Run, options: Options) -> list[str]:
    from memx.pipeline.memorization import discoverable_stage

    prefix = discoverable_stage(run).strategies["prefix"]
    return [f"discoverable: {prefix.exact} of {prefix.rows} prefix continuations equal the true suffix "
            "(discoverable.json)"]


def _membership(run: Run, options: Options) -> list[str]:
    from memx.membership.summary import MEMBERSHIP_KEY
    from memx.pipeline.membership import membership_step

    return [f"membership: {membership_step(run).sentence()} ({run.storage.uri(MEMBERSHIP_KEY)})"]


def _report(run: Run, options: Options) -> list[str]:
    from memx.pipeline.report import report_stage

    extra = options.report_extra(run) if callable(options.report_extra) else options.report_extra
    return [f"report: {report_stage(run, redact=options.redact, extra=extra)}"]


def _sampling(config: Config) -> bool:
    return bool(config.generation.strategies)


def _verifying(config: Config) -> bool:
    return _sampling(config) and config.verify is not None


STEPS: tuple[Step, ...] = (
    Step("extraction", "extraction.json", lambda c: c.extraction is not None, _extraction, (EXTRACTION,)),
    Step("candidates", "candidates.parquet", _sampling, _candidates, (SAMPLES, SCORES), timing="reduce"),
    Step("verify", "candidates.parquet", _verifying, _verify, (SAMPLES,), ("candidates",), done=_verified,
         timing="verify"),
    Step("memorization", "memorization.json", lambda c: _verifying(c) and c.verify.scope == "all", _memorization,
         (SAMPLES, SCORES, VERIFIED), ("verify",), timing="verify"),
    Step("discoverable", "discoverable.json", lambda c: "prefix" in c.generation.strategies, _discoverable,
         (SAMPLES, SCORES)),
    Step("membership", "membership.json", lambda c: c.membership is not None, _membership, (MEMBERSHIP,)),
    # the report reads every other output the run has
    Step("report", "report.html", lambda c: True, _report, needs_steps=("extraction", "candidates", "verify",
                                                                          "memorization", "discoverable",
                                                                          "membership")),
)


def step_named(name: str) -> Step:
    for step in STEPS:
        if step.name == name:
            return step
    raise ValueError(f"unknown step {name!r} (steps: {', '.join(step.name for step in STEPS)})")


def steps_of(config: Config) -> tuple[Step, ...]:
    """The whole-run steps this run has, in declaration order."""
    return tuple(step for step in STEPS if step.in_run(config))


def needed_stages(config: Config, step: Step) -> tuple[str, ...]:
    """The sharded stages of this run whose shards `step` reads."""
    return tuple(stage for stage in step.needs_stages if stage in stages_of(config))


def run_steps(run: Run, log: Callable[[str], object] = print, names: tuple[str, ...] | None = None,
              options: Options = Options(), timings: dict[str, float] | None = None) -> None:
    """Make every step of the run (or those `names`), in declaration order; each one's lines go to `log`."""
    import time

    for name in names or ():
        step_named(name)  # a misspelt name is an error, not a step silently skipped
    for step in steps_of(run.config):
        if names is not None and step.name not in names:
            continue
        started = time.time()
        for line in step.make(run, options):
            log(line)
        if timings is not None and step.timing:
            timings[step.timing] = timings.get(step.timing, 0.0) + time.time() - started


def step_status(run: Run) -> dict[str, bool]:
    """Each step of the run (by its output key's name) -> whether it is written."""
    return {step.name: step.is_done(run) for step in steps_of(run.config)}


def finished(run: Run) -> bool:
    """True when every shard is committed and every whole-run output of the run is written."""
    from memx.pipeline.status import run_status

    if any(s.todo for s in run_status(run).values()):
        return False
    return all(step.is_done(run) for step in steps_of(run.config))
