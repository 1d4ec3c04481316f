"""The run's candidates (candidates.parquet, Parquet with zstd at the run root), made on the
driver from committed shards and read back here:
`reduce_stage` ranks, de-duplicates and selects them (memx.reduce over every sample and
score shard), `verify_stage` checks each against the training-corpus index (the span (docs/formulas.md#span)
rule over the candidate's generated tokens, the same number the `verified` stage writes
for its sample) and adds match_tokens, memorized, category and the personal data
inside memorized spans.

Both read through the run's storage and rewrite candidates.parquet whole; rerunning either
recomputes the same table, so it needs no manifest. They know nothing about Ray.
"""

from __future__ import annotations

import io
from collections import defaultdict

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from memx.errors import MemxFailure
from memx.progress import StageProgress
from memx.pipeline.personal_data import settings as personal_data_settings
from memx.pipeline.run import CONFIG_KEY, Run
from memx.plan import ShardSpec
from memx.shards import committed_manifests, read_shard, table_from_bytes
from memx.pipeline.stages import SAMPLES, SCORES
from memx.pipeline.span_from import read_samples
from memx.pipeline.status import run_status
from memx.storage import Storage

CANDIDATES_KEY = "candidates.parquet"


def write_table(storage: Storage, key: str, table: pa.Table) -> None:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    storage.write_bytes(key, buffer.getvalue())


def read_table(storage: Storage, key: str) -> pa.Table:
    if not storage.exists(key):
        raise MemxFailure(f"{storage.uri(key)} does not exist yet; run `memx reduce` (or `memx resume`) first")
    return table_from_bytes(storage.read_bytes(key))


class StorageRunReader:
    """The reducer's view of a run: committed shards only, column-projected reads."""

    def __init__(self, storage: Storage, specs: list[ShardSpec]):
        self.storage = storage
        self._specs = {(s.stage, s.strategy, s.index): s for s in specs}
        self.strategies = sorted({s.strategy for s in specs}, key=[s.strategy for s in specs].index)
        self._committed = {stage: committed_manifests(storage, stage) for stage in (SAMPLES, SCORES)}

    def shards(self, strategy: str) -> list[int]:
        both = set(self._committed[SAMPLES]) & set(self._committed[SCORES])
        return sorted(index for (name, index) in both if name == strategy)

    def read_scores(self, strategy: str, shard: int, columns: list[str]) -> pa.Table:
        return read_shard(self.storage, self._specs[(SCORES, strategy, shard)], columns)

    def read_samples(self, strategy: str, shard: int, columns: list[str]) -> pa.Table:
        return read_shard(self.storage, self._specs[(SAMPLES, strategy, shard)], columns)


def reduce_stage(run: Run) -> pa.Table:
    from memx.reduce import run_reduce

    storage, config = run.storage, run.config
    statuses = run_status(run, verify_checksums=False)
    missing = sum(len(s.todo) for s in statuses.values())
    if missing:
        if not storage.exists(CONFIG_KEY):  # never started: there is nothing to resume yet
            raise MemxFailure(f"nothing generated at {run.uri} yet; run `memx run CONFIG` first")
        raise MemxFailure(f"{missing} shards are missing or corrupt; run `memx resume {run.uri}` first")
    specs = run.plan(SAMPLES) + run.plan(SCORES)
    reader = StorageRunReader(storage, specs)
    bars: dict[str, StageProgress] = {}

    def progress(step: str, done: int, total: int) -> None:
        bar = bars.get(step) or bars.setdefault(step, StageProgress(step, total, unit="shards"))
        bar.advance(done - bar.done)

    try:
        candidates = run_reduce(reader, config.metric_names(), config.selection, progress=progress).candidates
    finally:
        for bar in bars.values():
            bar.close()
    write_table(storage, CANDIDATES_KEY, candidates)
    return candidates


def candidate_samples(run: Run, sample_ids: list[str], columns: list[str]) -> pa.Table:
    """sample_id, `columns` and `span_from` (0 for shards written before it existed) of the
    given samples, reading only the shards that hold them."""
    wanted: dict[tuple[str, int], set[str]] = defaultdict(set)
    for sample_id in sample_ids:
        strategy, shard, _ = sample_id.rsplit("-", 2)
        wanted[(strategy, int(shard))].add(sample_id)
    planned = {(spec.strategy, spec.index): spec for spec in run.plan(SAMPLES)}
    found = []
    for (strategy, shard), ids in wanted.items():
        if (strategy, shard) not in planned:
            raise MemxFailure(f"{ShardSpec(SAMPLES, strategy, shard, 0, 0, 0).key} is not in this run's plan")
        table = read_samples(run.storage, planned[(strategy, shard)], ["sample_id", *columns])  # + span_from
        found.append(table.filter(pc.is_in(table.column("sample_id"), pa.array(sorted(ids)))))
    return pa.concat_tables(found) if found else pa.table({"sample_id": pa.array([], pa.string())})


def candidate_tokens(run: Run, sample_ids: list[str]) -> dict[str, list[int]]:
    """Generated token ids of the given samples, reading only the shards that hold them."""
    table = candidate_samples(run, sample_ids, ["token_ids"])
    return dict(zip(table.column("sample_id").to_pylist(), table.column("token_ids").to_pylist()))


def verify_stage(run: Run) -> pa.Table:
    """candidates.parquet gains match_tokens, memorized, category, match_text and personal_data
    (docs/outputs.md, docs/personal-data.md)."""
    from memx.verify import verify_candidate_tokens

    config = run.config
    search = run.span_search()  # the rule the verified stage applies, for any kind of index
    candidates = read_table(run.storage, CANDIDATES_KEY)
    samples = candidate_samples(run, list(dict.fromkeys(candidates.column("sample_id").to_pylist())),
                                ["token_ids", "prompt_ids"])  # prompt_ids: where a span's characters are
    # a divergence sample's repeated word is never a span (docs/chat.md)
    span_from = dict(zip(samples.column("sample_id").to_pylist(), samples.column("span_from").to_pylist())) \
        if samples.num_rows else {}
    verified = verify_candidate_tokens(candidates, samples, search.table, search, config.verify.min_match_tokens,
                                       prompt_ids_by_sample=samples, personal_data=personal_data_settings(config),
                                       span_from=span_from)
    write_table(run.storage, CANDIDATES_KEY, verified)
    return verified
