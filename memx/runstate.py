"""config.json: the resolved config a run was started with, and the resume rule.

A run's plan (which shards exist and what each contains) is fixed by a few fields of
its config. A later `run` or `resume` with a different value in any of them would mix
two experiments in one directory, so it is refused with the field named. Fields that
only change how fast or how the results are summarised (batch sizes, actors, selection,
verify) may change freely. Credentials are not part of a Config, so they cannot land here.
"""

from __future__ import annotations

import json
from typing import Any

from memx.config import Config, parse_config
from memx.errors import ConfigError
from memx.storage import Storage

CONFIG_KEY = "config.json"

# Dotted paths into the config dump; a difference in any of them changes shard contents.
PLAN_FIELDS = (
    "run_id",
    "target.model", "target.dtype",
    "references",
    "generation.strategies", "generation.samples_per_strategy", "generation.shard_size",
    "generation.max_new_tokens", "generation.top_k", "generation.temperature",
    "generation.internet", "generation.seed",
    "scoring.metrics", "scoring.window",
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


def start_run(storage: Storage, config: Config) -> Config:
    """Save config.json on first start; on a later start refuse a changed plan. Returns the config to use."""
    new = config.model_dump(mode="json")
    if not storage.exists(CONFIG_KEY):
        payload = json.dumps(new, indent=2, sort_keys=True).encode()
        if storage.create_if_absent(CONFIG_KEY, payload):
            return config
    saved = json.loads(storage.read_bytes(CONFIG_KEY))
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
