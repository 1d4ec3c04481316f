"""The sharded stages of a run, declared once: what each is called, which runner makes its
shards, which stage's same-named shard it runs after, which actors run it, how many of
the GPUs it gets beside the others, whether a run has it, and how its shards are planned.

`cluster/` (which runner an actor hosts, placement, overlap, order), status and resume read
this table; nothing else names a stage. A stage is added here plus its runner (a
`memx.pipeline.runner.ShardRunner` that only produces rows; see `memx.pipeline.runners`).
The runner is named `module:Class`, not imported: actors import it, and this module stays
free of torch and of the runners' own imports.

Planning takes the config and the run's inputs, so a stage whose shards depend on an input
(documents of a source) is planned as easily as one fixed by the config alone; a Run plans
each stage once (`Run.plan`). A planned spec's `strategy` slot names the shard family inside
the stage (a strategy, or for a stage over a source its section's name): the shard is
`{stage}/{family}/shard-NNNNN`. Pure: no I/O beyond what a planner reads through the inputs, no Ray.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

from memx.config import Config
from memx.errors import ConfigError
from memx.pipeline.inputs import Inputs, scan_source
from memx.plan import ShardSpec, strategy_shards

SAMPLES, SCORES, VERIFIED, EXTRACTION = "samples", "scores", "verified", "extraction"
MEMBERSHIP = "membership"


@dataclass(frozen=True)
class Stage:
    name: str
    runner: str  # `module:Class` of its ShardRunner
    plan: Callable[[Config, Inputs, str], list[ShardSpec]]  # (config, inputs, stage name) -> every shard
    in_run: Callable[[Config], bool]  # whether a run with this config has the stage at all
    after: str | None = None  # its shard of the same (family, index) must be committed first
    # "replicas": one model replica per GPU (CPU threads without GPUs), pinned there;
    # "cpu": one single-threaded actor per CPU the replicas leave free
    actors: Literal["replicas", "cpu"] = "replicas"
    # GPUs shared among replica stages that run at once, in proportion to this (see SAMPLES)
    gpu_weight: int = 1
    unit: str = "samples"  # what a shard spec's `size` counts (progress bars)


def _plan_per_strategy(config: Config, inputs: Inputs, stage: str) -> list[ShardSpec]:
    return strategy_shards(config, stage)


def _samples_in_run(config: Config) -> bool:
    return bool(config.generation.strategies)


def _plan_extraction(config: Config, inputs: Inputs, stage: str) -> list[ShardSpec]:
    """Shards of the selected documents, counted without tokenizing (memx.extraction.plan)."""
    from memx.extraction.plan import plan_shards, selected_count

    def source_documents() -> int:
        try:
            return scan_source(config, inputs).n_documents
        except ValueError as error:
            raise ConfigError(str(error)) from None

    return plan_shards(config, stage, selected_count(config, source_documents))


def _has_extraction(config: Config) -> bool:
    return config.extraction is not None


def _plan_membership(config: Config, inputs: Inputs, stage: str) -> list[ShardSpec]:
    """Both sides' selected documents in shards (memx.membership.plan); `documents: all` counts without tokenizing."""
    from memx.membership.plan import plan_shards, side_source

    def count(side: str) -> int:
        try:
            return side_source(config, inputs, side).n_documents
        except ValueError as error:
            raise ConfigError(str(error)) from None

    return plan_shards(config, stage, count)


def _verify_all(config: Config) -> bool:
    return config.verify is not None and config.verify.scope == "all"


RUNNERS = "memx.pipeline.runners"
STAGES: tuple[Stage, ...] = (
    # Generation takes `max_new_tokens` sequential passes per sample where scoring takes one
    # per model, so one scorer keeps up with about 8 generators.
    Stage(SAMPLES, f"{RUNNERS}:GenerateRunner", _plan_per_strategy, _samples_in_run, gpu_weight=8),
    Stage(SCORES, f"{RUNNERS}:ScoreRunner", _plan_per_strategy, _samples_in_run, after=SAMPLES),
    Stage(VERIFIED, f"{RUNNERS}:VerifyRunner", _plan_per_strategy, _verify_all, after=SAMPLES, actors="cpu"),
    # exact extraction: shards of a source's documents on the model replicas, after no other stage
    Stage(EXTRACTION, f"{RUNNERS}:ExtractionRunner", _plan_extraction, _has_extraction, unit="documents"),
    # labelled member / non-member documents scored on the model replicas, like the scores stage
    Stage(MEMBERSHIP, "memx.pipeline.membership:MembershipRunner", _plan_membership,
          lambda config: config.membership is not None, unit="documents"),
)
_BY_NAME = {stage.name: stage for stage in STAGES}


def stage_named(name: str) -> Stage:
    if name not in _BY_NAME:
        raise ValueError(f"unknown stage {name!r} (stages: {', '.join(_BY_NAME)})")
    return _BY_NAME[name]


def stages_of(config: Config) -> tuple[str, ...]:
    """The names of the sharded stages this run has, in declaration order."""
    return tuple(stage.name for stage in STAGES if stage.in_run(config))


def plan_stage(config: Config, inputs: Inputs, name: str) -> list[ShardSpec]:
    """Every shard spec of stage `name` ([] when the run does not have it). Callers holding a
    Run ask `run.plan(name)`, which plans once."""
    stage = stage_named(name)
    return stage.plan(config, inputs, name) if stage.in_run(config) else []
