"""The run config: docs/config.md as pydantic models, loaded from YAML.

Every key has the paper's default, and the two lists a one-model config cannot fill alone
(strategies, metrics) default to what its inputs allow (`default_lists`); unknown keys are
an error; a bad file becomes one `ConfigError` line naming the field. This module knows nothing about storage, Ray or
models: it only says what a valid run looks like. Credentials are never a field.

A section of its own lives in this package, one module per section (`verify.py`, `extraction.py`;
`strict.py` holds the base model every section shares), and is assembled into `Config` here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from memx.config.chat import ChatTargetFields, DivergenceConfig, TemplateConfig
from memx.errors import ConfigError
from memx.metrics import METRIC_NAMES
from memx.config.extraction import ExtractionConfig
from memx.config.strict import RUN_ID_PATTERN, PositiveInt, StrictModel
from memx.config.verify import VerifyConfig
from memx.config.personal_data import PersonalDataConfig
from memx.config.membership import MembershipConfig

STRATEGIES = ("top_k", "temperature", "internet")  # the paper's three
PREFIX = "prefix"  # discoverable extraction (docs/formulas.md#prefix), beside the paper's three
# What a strategy or metric needs, when the user left the list to memx (`default_lists`)
_NEEDS = {"internet": ("generation", "internet", "prompts"), PREFIX: ("generation", "prefix", "source")}
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

class StorageConfig(StrictModel):
    endpoint_url: str | None = None
    region: str | None = None

    @field_validator("endpoint_url")
    @classmethod
    def _no_credentials_in_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not re.match(r"^https?://[^/@\s]+(/.*)?$", value):
            raise ValueError("must be http(s)://host[:port] without credentials")
        return value


class ModelConfig(StrictModel):
    model: str = Field(min_length=1)
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"


class TargetConfig(ModelConfig, ChatTargetFields):
    pass


class ReferenceConfig(ModelConfig):
    name: str

    @field_validator("name")
    @classmethod
    def _name_is_a_column_suffix(cls, value: str) -> str:
        if value == "target" or not NAME_PATTERN.match(value):
            raise ValueError("must match [a-z][a-z0-9_]{0,31} and not be 'target'")
        return value


class TemperatureConfig(StrictModel):
    start: float = Field(10.0, gt=0)
    end: float = Field(1.0, gt=0)
    decay_tokens: int = Field(20, ge=0)


class InternetConfig(StrictModel):
    prompts: str | None = None
    min_tokens: PositiveInt = 5
    max_tokens: PositiveInt = 10

    @model_validator(mode="after")
    def _range(self) -> "InternetConfig":
        if self.min_tokens > self.max_tokens:
            raise ValueError(f"min_tokens ({self.min_tokens}) must be <= max_tokens ({self.max_tokens})")
        return self


class PrefixConfig(StrictModel):
    """docs/formulas.md#prefix: sequences cut from `source`; the model continues each prefix for suffix_tokens."""

    source: str | None = None
    prefix_tokens: PositiveInt = 50
    suffix_tokens: PositiveInt = 50
    decoding: Literal["greedy", "top_k"] = "greedy"
    draws: PositiveInt = 1  # declared after `decoding`, so its validator can see it

    @field_validator("draws")
    @classmethod
    def _draws_need_sampling(cls, value: int, info: ValidationInfo) -> int:
        # greedy is deterministic: n draws would be n copies of one continuation
        if value > 1 and info.data.get("decoding", "greedy") == "greedy":
            raise ValueError(f"{value} draws need decoding: top_k (greedy gives the same continuation every draw)")
        return value

    @property
    def sequence_tokens(self) -> int:
        return self.prefix_tokens + self.suffix_tokens


class GenerationConfig(StrictModel):
    # Config fills an unset list from the inputs present (`default_lists`); standing alone
    # a GenerationConfig has no inputs, so it gets the two strategies that need none.
    strategies: list[Literal["top_k", "temperature", "internet", "prefix", "divergence", "template"]] = Field(
        default_factory=lambda: ["top_k", "temperature"]
    )
    samples_per_strategy: PositiveInt = 200_000
    shard_size: PositiveInt = 1000
    batch_size: PositiveInt = 64
    max_new_tokens: PositiveInt = 256
    top_k: PositiveInt = 40
    temperature: TemperatureConfig = TemperatureConfig()
    internet: InternetConfig = InternetConfig()
    prefix: PrefixConfig = PrefixConfig()
    divergence: DivergenceConfig = DivergenceConfig()
    template: TemplateConfig = TemplateConfig()
    seed: int = Field(0, ge=0)

    @field_validator("strategies")
    @classmethod
    def _strategies(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("strategies must not repeat")
        return value


class ScoringConfig(StrictModel):
    # as for strategies: Config adds `ratio` to an unset list only when references are given
    metrics: list[Literal[METRIC_NAMES]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: [m for m in METRIC_NAMES if m != "ratio"])
    window: PositiveInt = 50
    batch_size: PositiveInt = 32

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one metric is required")
        if len(set(value)) != len(value):
            raise ValueError("metrics must not repeat")
        return value


class SelectionConfig(StrictModel):
    pool: PositiveInt = 1000
    per_config: PositiveInt = 100

    @model_validator(mode="after")
    def _per_config_fits(self) -> "SelectionConfig":
        if self.per_config > self.pool:
            raise ValueError(f"per_config ({self.per_config}) must be <= pool ({self.pool})")
        return self


class ClusterConfig(StrictModel):
    actors: Literal["auto"] | PositiveInt = "auto"
    gpus_per_actor: float = Field(1.0, gt=0, le=8)


class Config(StrictModel):
    run_id: str
    output: str = Field(min_length=1)
    storage: StorageConfig = StorageConfig()
    target: TargetConfig
    references: list[ReferenceConfig] = Field(default_factory=list)
    generation: GenerationConfig = GenerationConfig()
    scoring: ScoringConfig = ScoringConfig()
    selection: SelectionConfig = SelectionConfig()
    verify: VerifyConfig | None = None
    extraction: ExtractionConfig | None = None
    personal_data: PersonalDataConfig | None = None  # which types are counted and masked (docs/personal-data.md)
    membership: MembershipConfig | None = None  # labelled member / non-member sets (docs/membership.md)
    cluster: ClusterConfig = ClusterConfig()

    @field_validator("run_id")
    @classmethod
    def _run_id(cls, value: str) -> str:
        if not RUN_ID_PATTERN.match(value):
            raise ValueError(f"{value!r} must match [a-z0-9][a-z0-9_-]{{0,63}} (no '/', '.', or upper case)")
        return value

    @model_validator(mode="before")
    @classmethod
    def _default_lists(cls, data: Any) -> Any:
        return default_lists(data)

    @model_validator(mode="after")
    def _cross_checks(self) -> "Config":
        names = [ref.name for ref in self.references]
        if len(set(names)) != len(names):
            raise ValueError("references: names must be unique")
        if not self.generation.strategies and self.extraction is None and self.membership is None:
            # `strategies: []` runs only the sections given: extraction, membership, or both
            raise ValueError("generation.strategies: [] runs no sampling; it needs an extraction or a membership "
                             "section")
        if "internet" in self.generation.strategies and not self.generation.internet.prompts:
            raise ValueError("generation.internet.prompts: the internet strategy needs a prompt corpus")
        self._check_prefix()
        if "ratio" in self.scoring.metrics and not self.references:
            raise ValueError("scoring.metrics: 'ratio' needs at least one entry in references")
        self._check_verify()
        return self

    def _check_verify(self) -> None:
        """A threshold no continuation can reach would verify nothing, silently."""
        if self.verify is None:
            return
        gen = self.generation
        lengths = {"generation.max_new_tokens": gen.max_new_tokens} if set(gen.strategies) - {PREFIX} else {}
        if PREFIX in gen.strategies:
            lengths["generation.prefix.suffix_tokens"] = gen.prefix.suffix_tokens
        if not lengths:  # an extraction-only run: the index only counts its windows (sequence_count)
            return
        field, longest = max(lengths.items(), key=lambda item: item[1])
        if self.verify.min_match_tokens > longest:
            raise ValueError(f"verify.min_match_tokens: {self.verify.min_match_tokens} is more than {field} "
                             f"({longest}), the longest continuation: no sample could ever count as memorized")

    def _check_prefix(self) -> None:
        gen = self.generation
        if PREFIX not in gen.strategies:
            return
        if not gen.prefix.source:
            raise ValueError("generation.prefix.source: the prefix strategy needs a document source "
                             "(jsonl, parquet or .txt; a file, a directory or an S3 prefix)")
        draws = gen.prefix.draws
        if draws > 1 and (gen.shard_size % draws or gen.samples_per_strategy % draws):
            # a sequence's draws stay in one shard and every sequence gets all n of them
            raise ValueError(f"generation.prefix.draws: generation.shard_size ({gen.shard_size}) and "
                             f"samples_per_strategy ({gen.samples_per_strategy}) must be multiples of draws ({draws})")

    @property
    def run_uri(self) -> str:
        return join_uri(self.output, self.run_id)

    def metric_names(self) -> list[str]:
        """The concrete metrics: `ratio` expands to one `ratio_<ref>` per reference."""
        names: list[str] = []
        for metric in self.scoring.metrics:
            if metric == "ratio":
                names.extend(f"ratio_{ref.name}" for ref in self.references)
            else:
                names.append(metric)
        return names


def _given(data: dict, path: tuple[str, ...]) -> bool:
    for part in path:
        data = data.get(part) if isinstance(data, dict) else None
    return bool(data)


def default_lists(data: Any) -> Any:
    """The raw config with `generation.strategies` and `scoring.metrics` filled in where the
    user left them out (absent or null): the paper's strategies whose inputs are present
    (top_k and temperature always, internet with prompts, prefix with a source) and every
    metric, `ratio` only with references. A list the user wrote is kept as written, so what
    it asks for and cannot have stays an error. config.json records the filled-in lists."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    generation = data.get("generation", {})
    if isinstance(generation, dict) and generation.get("strategies") is None:
        strategies = [s for s in (*STRATEGIES, PREFIX) if s not in _NEEDS or _given(data, _NEEDS[s])]
        data["generation"] = {**generation, "strategies": strategies}
    scoring = data.get("scoring", {})
    if isinstance(scoring, dict) and scoring.get("metrics") is None:
        data["scoring"] = {**scoring, "metrics": [m for m in METRIC_NAMES if m != "ratio" or data.get("references")]}
    return data


def join_uri(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])


def _format_error(error: ValidationError) -> str:
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"]) or "config"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    elif first["type"] == "missing":
        message = "required field is missing"
    if not first["loc"]:  # a cross-field check: its message starts with the field it names
        return message
    return f"{location}: {message}"


def parse_config(data: Any, source: str = "config") -> Config:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the config must be a YAML mapping, got {type(data).__name__}")
    try:
        return Config.model_validate(data)
    except ValidationError as error:
        raise ConfigError(f"{source}: {_format_error(error)}") from None


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read config ({error.strerror or error})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None
    return parse_config(data, source=str(path))
