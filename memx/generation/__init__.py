"""Sample generation (docs/formulas.md strategies, docs/outputs.md sample columns, docs/formulas.md#prefix `prefix`): pure, Ray-free, storage-free.

The caller (`memx.pipeline.runners.GenerateRunner`, the lab audit, the benchmarks) loads a model,
builds a `PromptCorpus` once per process for the `internet` strategy and a
`DocumentSource` once per process for `prefix` (the chat strategies `divergence` and
`template` read the target's resolved chat template from its `LoadedModel`), and
streams `generate_shard` record batches into its Parquet writer. Nothing here knows
about Ray, S3 or manifests.
"""

from memx.generation.chat import CHAT_FIELDS
from memx.documents import DocumentSource, ListFiles, local_files
from memx.generation.prefix import (
    PrefixSequences, check_prefix_source, draw_sequences, prefix_context_problem, shard_sequences,
)
from memx.generation.processors import DecayingTemperature, greedy, inverse_cdf, sample_full, sample_top_k
from memx.generation.prompts import OpenInput, PromptCorpus, load_prompt_corpus, local_open
from memx.generation.sampler import greedy_complete, sample_batch
from memx.generation.shard import (
    SAMPLE_SCHEMA, GenerationStats, generate_shard, prefix_rows, shard_prompts, strategy_chooser,
)

__all__ = [
    "CHAT_FIELDS",
    "SAMPLE_SCHEMA",
    "DecayingTemperature",
    "DocumentSource",
    "GenerationStats",
    "ListFiles",
    "OpenInput",
    "PrefixSequences",
    "PromptCorpus",
    "check_prefix_source",
    "draw_sequences",
    "generate_shard",
    "greedy",
    "greedy_complete",
    "inverse_cdf",
    "load_prompt_corpus",
    "local_files",
    "local_open",
    "prefix_context_problem",
    "prefix_rows",
    "sample_batch",
    "sample_full",
    "sample_top_k",
    "shard_prompts",
    "shard_sequences",
    "strategy_chooser",
]
