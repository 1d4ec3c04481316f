"""Personal data of a run (docs/personal-data.md): the settings its config asks for, the
`personal_data` column of a verified shard, and memorization.json's `personal_data` counts.

A sample is memorized when its span holds `verify.min_match_tokens` tokens; only then are
the entities inside the span listed (`memx.pii.memorized_personal_data`), so the column is
`[]` for every other row and the counts never see them. Detection, spans and counting are
`memx.pii`'s; this module only joins them to the run's config and rows.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from memx.config import Config
from memx.pii import PersonalDataCounts, memorized_personal_data
from memx.config.personal_data import PersonalDataConfig

COLUMN = "personal_data"


def settings(config: Config) -> PersonalDataConfig:
    """The run's `personal_data` section, or the defaults (every type, US) when absent."""
    return config.personal_data or PersonalDataConfig()


def verified_column(config: Config, samples: pa.Table, spans: dict, bytes_of) -> pa.Array:
    """The `personal_data` column of a verified shard: `samples` (text, prompt_ids,
    token_ids) with the spans the search found for them (match_tokens/start/end)."""
    section = settings(config)
    memorized = np.asarray(spans["match_tokens"]) >= config.verify.min_match_tokens
    return memorized_personal_data(samples.column("text").to_pylist(), samples.column("prompt_ids").to_pylist(),
                                   samples.column("token_ids").to_pylist(), spans["match_start"], spans["match_end"],
                                   memorized, bytes_of, section.types, section.phone_region)


def new_counts(config: Config) -> PersonalDataCounts:
    return PersonalDataCounts(settings(config).types)


def add_shard(counts: PersonalDataCounts, config: Config, rows: pa.Table, strategy: str) -> bool:
    """One verified shard joined with its samples' `text`; False when the shard was verified
    before memx listed personal data (no column: memorization.json then leaves it out)."""
    if COLUMN not in rows.column_names:
        return False
    memorized = (rows.column("match_tokens").to_numpy() >= config.verify.min_match_tokens).tolist()
    counts.add(strategy, memorized, rows.column("text").to_pylist(), rows.column(COLUMN).to_pylist())
    return True
