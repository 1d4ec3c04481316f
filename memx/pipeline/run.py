"""A run: where it lives, what it plans (config.json), and the resume rule.

A `Run` pairs the run's storage, resolved once where a command starts from the URI the
user named, with the config saved in it and the run's `Inputs` (one storage per input
bucket, built once); it plans each stage once (`Run.plan`) and opens the verification
index through its inputs (`Run.index`, `Run.span_search`). Everything downstream (stages, actors, status, report) receives the
Run and never rebuilds a location from `output`/`run_id` nor an input's storage: those two
fields only say where `memx run CONFIG` creates a run, so a run copied or synced
elsewhere works in place and `resume` of a copy finishes the copy.

A run's plan (which shards exist and what each contains) is fixed by a few fields of
its config. A later `run` or `resume` with a different value in any of them would mix
two experiments in one directory, so it is refused with the field named. Fields that
only change how fast or how the results are summarised (batch sizes, actors, selection,
verify) may change freely. Credentials are not part of a Config, so they cannot land here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from memx.config import Config, parse_config
from memx.errors import ConfigError
from memx.pipeline.inputs import Inputs, OpenIndex
from memx.pipeline.stages import plan_stage
from memx.plan import ShardSpec
from memx.storage import Storage

CONFIG_KEY = "config.json"

# Dotted paths into the config dump; a difference in any of them changes shard contents.
PLAN_FIELDS = (
    "run_id",
    "target.model", "target.dtype",
    "references",
    "generation.strategies", "generation.samples_per_strategy", "generation.shard_size",
    "generation.max_new_tokens", "generation.top_k", "generation.temperature",
    "generation.internet", "generation.prefix", "generation.seed",
    "scoring.metrics", "scoring.window",
    "personal_data",  # the verified shards' personal_data column (docs/personal-data.md)
    "membership.members", "membership.nonmembers", "membership.documents", "membership.max_tokens",
    "membership.shard_documents",
)


def _get(data: dict, dotted: str) -> Any:
    for part in dotted.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def plan_differences(saved: dict, new: dict) -> list[str]:
    return [f for f in PLAN_FIELDS if _get(saved, f) != _get(new, f)]


def load_saved_config(storage: Storage) -> Config | None:
    if not storage.exists(CONFIG_KEY):
        return None
    return parse_config(json.loads(storage.read_bytes(CONFIG_KEY)), source=storage.uri(CONFIG_KEY))


def start_run(run: "Run") -> Config:
    """Save config.json on first start; on a later start refuse a changed plan. Returns the config to use."""
    storage, config = run.storage, run.config
    new = config.model_dump(mode="json")
    if not storage.exists(CONFIG_KEY):
        payload = json.dumps(new, indent=2, sort_keys=True).encode()
        if storage.create_if_absent(CONFIG_KEY, payload):
            return config
    # through the model, so a field added to memx since the run began compares as its default
    saved = parse_config(json.loads(storage.read_bytes(CONFIG_KEY)), source=storage.uri(CONFIG_KEY)).model_dump(mode="json")
    changed = plan_differences(saved, new)
    if changed:
        field = changed[0]
        raise ConfigError(
            f"{field}: differs from the run's saved config.json ({_get(saved, field)!r} -> {_get(new, field)!r}); "
            f"use a new run_id, or `memx resume {storage.root}` to continue with the saved plan"
        )
    if saved != new:
        # Non-plan fields (batch sizes, selection...) may change; the latest values are recorded.
        storage.write_bytes(CONFIG_KEY, json.dumps(new, indent=2, sort_keys=True).encode())
    return config


@dataclass(frozen=True)
class Run:
    """A run's storage (its root is the run), its config (the plan) and its inputs, each
    resolved once by the command that opened the run (inputs default to the config's
    storage settings)."""

    storage: Storage
    config: Config
    inputs: Inputs = field(default=None)  # type: ignore[assignment]
    _plans: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.inputs is None:
            object.__setattr__(self, "inputs", Inputs.of(self.config))

    def plan(self, stage: str) -> list[ShardSpec]:
        """Every shard spec of `stage` ([] when the run does not have it), planned once per Run:
        status, the scheduler, the whole-run steps and the report all ask."""
        if stage not in self._plans:
            self._plans[stage] = plan_stage(self.config, self.inputs, stage)
        return list(self._plans[stage])

    def index(self) -> OpenIndex:
        """The run's verification index, opened once per process by the run's Inputs."""
        if self.config.verify is None:
            raise ConfigError("verify: the config has no `verify` section (index, min_match_tokens)")
        return self.inputs.index(self.config.verify)

    def span_search(self, target_tokenizer=None):
        """The span search of the run's target in the run's index: the one way the verified
        stage, candidates and memorization.json read the index. Without a tokenizer in hand,
        the target's is read with `tokenizers` alone (a verify actor needs no torch)."""
        from memx.verify.tokenbytes import load_tokenizer

        return self.index().search(target_tokenizer or load_tokenizer(self.config.target.model, field="target.model"))

    @property
    def uri(self) -> str:
        return self.storage.root

    def to_wire(self) -> dict:
        """What an actor needs to open the same run: plain JSON, no credentials."""
        return {"root": self.storage.root, "endpoint_url": self.storage.endpoint_url,
                "region": self.storage.region, "config": self.config.model_dump(mode="json"),
                "inputs": self.inputs.to_wire()}

    @classmethod
    def from_wire(cls, wire: dict) -> "Run":
        return cls(Storage(wire["root"], wire["endpoint_url"], wire["region"]), parse_config(wire["config"]),
                   Inputs.from_wire(wire["inputs"]))


def new_run(config: Config) -> Run:
    """The run `memx run CONFIG` creates: at `{output}/{run_id}`, with the config's storage settings."""
    return Run(Storage(config.run_uri, config.storage.endpoint_url, config.storage.region), config)


def open_run(uri: str, endpoint_url: str | None = None) -> Run:
    """The run at `uri`, wherever it was created. On S3 the endpoint is `endpoint_url`, else
    $AWS_ENDPOINT_URL, else AWS itself (config.json cannot be read before the endpoint is
    known), and the saved region applies; a local run ignores every storage setting."""
    if uri.startswith("s3://"):
        endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    else:
        endpoint_url = None
    storage = Storage(uri, endpoint_url)
    config = load_saved_config(storage)
    if config is None:
        raise ConfigError(f"RUN: {uri} holds no config.json (is it the run's URI, {{output}}/{{run_id}}?)")
    if storage.is_s3 and config.storage.region:
        storage = Storage(uri, endpoint_url, config.storage.region)
    return Run(storage, config)
