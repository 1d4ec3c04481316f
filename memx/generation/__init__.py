"""Sample generation (SPEC §1 strategies, §4 sample columns): pure, Ray-free, storage-free.

The caller (cluster/ actors) loads a model, builds a `PromptCorpus` once per process
for the `internet` strategy, and streams `generate_shard` record batches into its
Parquet writer. Nothing here knows about Ray, S3 or manifests.
"""

from memx.generation.processors import DecayingTemperature, inverse_cdf, sample_full, sample_top_k
from memx.generation.prompts import OpenInput, PromptCorpus, load_prompt_corpus, local_open
from memx.generation.sampler import first_step_logits, sample_batch
from memx.generation.shard import SAMPLE_SCHEMA, GenerationStats, generate_shard, shard_prompts, strategy_chooser

__all__ = [
    "SAMPLE_SCHEMA",
    "DecayingTemperature",
    "GenerationStats",
    "OpenInput",
    "PromptCorpus",
    "first_step_logits",
    "generate_shard",
    "inverse_cdf",
    "load_prompt_corpus",
    "local_open",
    "sample_batch",
    "sample_full",
    "sample_top_k",
    "shard_prompts",
    "strategy_chooser",
]
