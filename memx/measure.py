"""The driver-side verification steps: candidates checked against the training-corpus
index, and memorization.json measured over every verified sample (SPEC §6).

`verify_stage` applies the span rule of SPEC §6 to the candidates' generated tokens (in
every scope, so a candidate's `match_tokens` is the same number the `verified` stage
writes for its sample). `memorization_stage` joins each shard's scores, verified spans
and generated tokens on `sample_id` and feeds `memx.verify.summary`, one shard at a time.
Both read committed shards through the run's storage and write one object at the run
root; rerunning either recomputes the same result. They know nothing about Ray.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict

import pyarrow as pa

from memx.config import Config
from memx.errors import ConfigError, MemxFailure
from memx.inputs import open_index
from memx.pipeline import CANDIDATES_KEY, read_table, write_table
from memx.plan import ShardSpec
from memx.runstate import Run
from memx.shards import read_shard
from memx.stagedefs import SAMPLES, SCORES, VERIFIED, plan_stage

MEMORIZATION_KEY = "memorization.json"


def target_token_bytes(config: Config):
    """The exact bytes of every target token id (the index is byte-level: any tokenizer).
    A local tokenizer.json is read with `tokenizers` alone: transformers would import torch
    into a verify actor that needs none of it."""
    from memx.verify import PackedTable, token_byte_table

    local = os.path.join(config.target.model, "tokenizer.json")
    if os.path.isfile(local):
        from tokenizers import Tokenizer

        return PackedTable(token_byte_table(Tokenizer.from_file(local)))
    from transformers import AutoTokenizer

    return PackedTable(token_byte_table(AutoTokenizer.from_pretrained(config.target.model)))


def candidate_tokens(run: Run, sample_ids: list[str]) -> dict[str, list[int]]:
    """Generated token ids of the given samples, reading only the shards that hold them."""
    wanted: dict[tuple[str, int], set[str]] = defaultdict(set)
    for sample_id in sample_ids:
        strategy, shard, _ = sample_id.rsplit("-", 2)
        wanted[(strategy, int(shard))].add(sample_id)
    planned = {(spec.strategy, spec.index): spec for spec in plan_stage(run, SAMPLES)}
    found: dict[str, list[int]] = {}
    for (strategy, shard), ids in wanted.items():
        if (strategy, shard) not in planned:
            raise MemxFailure(f"sample shard {strategy}/shard-{shard:05d} is not in this run's plan")
        table = read_shard(run.storage, planned[(strategy, shard)], ["sample_id", "token_ids"])
        for sample_id, tokens in zip(table.column("sample_id").to_pylist(), table.column("token_ids").to_pylist()):
            if sample_id in ids:
                found[sample_id] = tokens
    return found


def verify_stage(run: Run) -> pa.Table:
    """candidates.parquet gains match_tokens, memorized and category (SPEC §4, §6)."""
    from memx.verify import verify_candidate_tokens

    config = run.config
    index = open_index(run)
    candidates = read_table(run.storage, CANDIDATES_KEY)
    tokens = candidate_tokens(run, list(dict.fromkeys(candidates.column("sample_id").to_pylist())))
    verified = verify_candidate_tokens(candidates, tokens, target_token_bytes(config), index,
                                       config.verify.min_match_tokens)
    write_table(run.storage, CANDIDATES_KEY, verified)
    return verified


def _joined(run: Run, spec: ShardSpec) -> pa.Table:
    """One shard's scores, verified spans and generated tokens, row-aligned on sample_id."""
    def read(stage: str, columns: list[str] | None = None) -> pa.Table:
        return read_shard(run.storage, spec.in_stage(stage), columns)

    verified, scores = read(VERIFIED), read(SCORES)
    samples = read(SAMPLES, ["sample_id", "token_ids"])
    ids = verified.column("sample_id")
    if not (ids.equals(scores.column("sample_id")) and ids.equals(samples.column("sample_id"))):
        raise MemxFailure(f"{spec.strategy}/{spec.name}: samples, scores and verified rows differ; "
                          f"delete the shard's manifests and run `memx resume {run.uri}`")
    score_columns = {name: scores.column(name) for name in scores.column_names if name.startswith("score_")}
    return pa.table({**{name: verified.column(name) for name in verified.column_names},
                     "token_ids": samples.column("token_ids"), **score_columns})


def memorization_stage(run: Run) -> dict:
    """memorization.json over every sample of a `verify.scope: all` run."""
    from memx.verify.summary import MemorizationSummary

    config = run.config
    if config.verify is None or config.verify.scope != "all":
        raise ConfigError("verify.scope: memorization.json needs `scope: all` (every sample verified)")
    summary = MemorizationSummary(config.metric_names(), config.verify.min_match_tokens)
    for spec in plan_stage(run, VERIFIED):
        summary.add(_joined(run, spec), spec.strategy)
    result = {"min_match_tokens": config.verify.min_match_tokens, **summary.result()}
    run.storage.write_bytes(MEMORIZATION_KEY, json.dumps(result, indent=2).encode())  # rerun: same bytes
    return result


def _read_json(run: Run, key: str) -> dict | None:
    return json.loads(run.storage.read_bytes(key)) if run.storage.exists(key) else None


def read_memorization(run: Run) -> dict | None:
    return _read_json(run, MEMORIZATION_KEY)


DISCOVERABLE_KEY = "discoverable.json"


def discoverable_stage(run: Run) -> dict:
    """discoverable.json (SPEC §7) from every `prefix` shard's samples and scores."""
    from memx.discoverable import discoverable_summary

    config = run.config
    if "prefix" not in config.generation.strategies:
        raise ConfigError("generation.strategies: discoverable.json needs the `prefix` strategy")
    samples, scores = [], []
    for spec in plan_stage(run, SCORES):
        if spec.strategy != "prefix":
            continue
        samples.append(read_shard(run.storage, spec.in_stage(SAMPLES), ["sample_id", "sequence_id"]))
        scores.append(read_shard(run.storage, spec))
    result = discoverable_summary(pa.concat_tables(samples), pa.concat_tables(scores), config.metric_names(),
                                  draws=config.generation.prefix.draws)
    result["settings"] = config.generation.prefix.model_dump(mode="json")
    run.storage.write_bytes(DISCOVERABLE_KEY, json.dumps(result, indent=2).encode())
    return result


def read_discoverable(run: Run) -> dict | None:
    return _read_json(run, DISCOVERABLE_KEY)
