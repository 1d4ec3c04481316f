"""What a run measures over every sample, on the driver, from committed shards:
memorization.json (`verify.scope: all`, docs/formulas.md#span: each shard's scores, verified spans and
generated tokens joined on sample_id and fed to `memx.verify.summary`, one shard at a time,
and the personal data inside memorized spans counted by `memx.pipeline.personal_data`)
and discoverable.json (the `prefix` strategy, docs/formulas.md#prefix: continuations against true suffixes).

Each writes one indented JSON object at the run root through its model
(`memx.verify.summary.Memorization`, `memx.discoverable.Discoverable`), read back by
`read_memorization` / `read_discoverable` as that model (None until written); rerunning
recomputes the same bytes. They know nothing about Ray.
"""

from __future__ import annotations

import pyarrow as pa

from memx.discoverable import Discoverable
from memx.errors import ConfigError, MemxFailure
from memx.outputs import Output
from memx.plan import ShardSpec
from memx.pipeline import personal_data
from memx.pipeline.run import Run
from memx.shards import read_shard
from memx.pipeline.stages import SAMPLES, SCORES, VERIFIED
from memx.storage import Storage
from memx.verify.summary import Memorization

MEMORIZATION_KEY = "memorization.json"
DISCOVERABLE_KEY = "discoverable.json"


def _joined(run: Run, spec: ShardSpec) -> pa.Table:
    """One shard's scores, verified spans and generated tokens, row-aligned on sample_id."""
    def read(stage: str, columns: list[str] | None = None) -> pa.Table:
        return read_shard(run.storage, spec.in_stage(stage), columns)

    verified, scores = read(VERIFIED), read(SCORES)
    samples = read(SAMPLES, ["sample_id", "token_ids", "text"])  # text: personal data values
    ids = verified.column("sample_id")
    if not (ids.equals(scores.column("sample_id")) and ids.equals(samples.column("sample_id"))):
        raise MemxFailure(f"{spec.key}: samples, scores and verified rows differ; "
                          f"delete the shard's manifests and run `memx resume {run.uri}`")
    score_columns = {name: scores.column(name) for name in scores.column_names if name.startswith("score_")}
    return pa.table({**{name: verified.column(name) for name in verified.column_names},
                     "token_ids": samples.column("token_ids"), "text": samples.column("text"), **score_columns})


def memorization_stage(run: Run) -> Memorization:
    """memorization.json over every sample of a `verify.scope: all` run."""
    from memx.chat.summary import DIVERGENCE_COLUMNS, DivergenceSummary
    from memx.verify.summary import MemorizationSummary

    config = run.config
    if config.verify is None or config.verify.scope != "all":
        raise ConfigError("verify.scope: memorization.json needs `scope: all` (every sample verified)")
    summary = MemorizationSummary(config.metric_names(), config.verify.min_match_tokens)
    personal, listed = personal_data.new_counts(config), True  # docs/personal-data.md
    divergence = DivergenceSummary(config.verify.min_match_tokens)  # docs/chat.md
    for spec in run.plan(VERIFIED):
        rows = _joined(run, spec)
        summary.add(rows, spec.strategy)
        listed = personal_data.add_shard(personal, config, rows, spec.strategy) and listed
        if spec.strategy == "divergence":
            divergence.add(read_shard(run.storage, spec.in_stage(SAMPLES), DIVERGENCE_COLUMNS),
                           rows.column("match_tokens").to_numpy())
    result = summary.result()
    if listed:  # shards verified before memx listed personal data have no column to count
        result.personal_data = personal.models()
    figures = divergence.result()
    if figures is not None:
        block = result.strategies["divergence"]
        for key, value in figures:
            setattr(block, key, value)
    write_json(run.storage, MEMORIZATION_KEY, result)
    return result


def discoverable_stage(run: Run) -> Discoverable:
    """discoverable.json (docs/formulas.md#prefix) from every `prefix` shard's samples and scores."""
    from memx.discoverable import discoverable_summary

    config = run.config
    if "prefix" not in config.generation.strategies:
        raise ConfigError("generation.strategies: discoverable.json needs the `prefix` strategy")
    samples, scores = [], []
    for spec in run.plan(SCORES):
        if spec.strategy != "prefix":
            continue
        samples.append(read_shard(run.storage, spec.in_stage(SAMPLES), ["sample_id", "sequence_id"]))
        scores.append(read_shard(run.storage, spec))
    result = discoverable_summary(pa.concat_tables(samples), pa.concat_tables(scores), config.metric_names(),
                                  draws=config.generation.prefix.draws)
    result.settings = config.generation.prefix.model_dump(mode="json")
    write_json(run.storage, DISCOVERABLE_KEY, result)
    return result


def write_json(storage: Storage, key: str, value: Output) -> None:
    storage.write_bytes(key, value.to_json())  # rerun: same bytes


def read_json(storage: Storage, key: str, model: type[Output]) -> Output | None:
    """The file as its model; a file that does not match it is a failure naming the file."""
    if not storage.exists(key):
        return None
    try:
        return model.from_json(storage.read_bytes(key))
    except ValueError as error:  # pydantic's ValidationError is a ValueError
        raise MemxFailure(f"{storage.uri(key)}: not a valid {key} ({str(error).splitlines()[0]})") from None


def read_memorization(run: Run) -> Memorization | None:
    return read_json(run.storage, MEMORIZATION_KEY, Memorization)


def read_discoverable(run: Run) -> Discoverable | None:
    return read_json(run.storage, DISCOVERABLE_KEY, Discoverable)
