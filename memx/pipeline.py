"""The driver-side stages that need no cluster: reduce and report (verification and the
memorization measurement are in `memx.measure`).

Each reads committed shards through the run's storage, calls the pure step from
`memx.reduce` or `memx.report`, and writes one result object at the run root
(candidates.parquet, report.html) atomically. Rerunning any of them recomputes the same
result from the same shards, so they need no manifests of their own.
"""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq

from memx.errors import ConfigError, MemxFailure
from memx.progress import StageProgress
from memx.runstate import CONFIG_KEY, Run
from memx.shards import StorageRunReader, read_shard
from memx.stagedefs import SAMPLES, SCORES, plan_stage
from memx.status import run_status
from memx.storage import Storage, atomic_local_file

CANDIDATES_KEY = "candidates.parquet"
REPORT_KEY = "report.html"
SCATTER_ROWS = 5000


def write_table(storage: Storage, key: str, table: pa.Table) -> None:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    storage.write_bytes(key, buffer.getvalue())


def read_table(storage: Storage, key: str) -> pa.Table:
    if not storage.exists(key):
        raise MemxFailure(f"{storage.uri(key)} does not exist yet; run `memx reduce` (or `memx resume`) first")
    return pq.read_table(io.BytesIO(storage.read_bytes(key)))


def reduce_stage(run: Run) -> pa.Table:
    from memx.reduce import run_reduce

    storage, config = run.storage, run.config
    statuses = run_status(run, verify_checksums=False)
    missing = sum(len(s.todo) for s in statuses.values())
    if missing:
        if not storage.exists(CONFIG_KEY):  # never started: there is nothing to resume yet
            raise MemxFailure(f"nothing generated at {run.uri} yet; run `memx run CONFIG` first")
        raise MemxFailure(f"{missing} shards are missing or corrupt; run `memx resume {run.uri}` first")
    specs = plan_stage(run, SAMPLES) + plan_stage(run, SCORES)
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


def scatter_sample(run: Run, candidate_ids: set[str] = frozenset(),
                   rows: int = SCATTER_ROWS) -> pa.Table:
    """Every candidate's scores plus a deterministic subsample of all other samples, for the
    score-vs-perplexity figure (the candidates must all be there: they are the point)."""
    storage, specs = run.storage, plan_stage(run, SCORES)
    per_shard = max(1, rows // max(1, len(specs)))
    tables = []
    for spec in specs:
        table = read_shard(storage, spec)
        step = max(1, table.num_rows // per_shard)
        picked = set(range(0, table.num_rows, step)[:per_shard])
        ids = table.column("sample_id").to_pylist()
        picked.update(i for i, sample_id in enumerate(ids) if sample_id in candidate_ids)
        chosen = table.take(sorted(picked))
        tables.append(chosen.append_column("strategy", pa.array([spec.strategy] * chosen.num_rows)))
    return pa.concat_tables(tables, promote_options="default") if tables else pa.table({})


def run_stats(run: Run) -> dict:
    stats = {}
    for stage, status in run_status(run, verify_checksums=False).items():
        stats[stage] = {"shards": len(status.committed), "planned": status.planned, "samples": status.samples,
                        "seconds": round(status.busy_seconds, 2),
                        "samples_per_s": round(status.samples_per_second, 3)}
    return stats


def report_stage(run: Run, out: str | None = None, redact: bool = True, extra_html: list[str] | None = None) -> str:
    """Render report.html (plus `extra_html` sections, e.g. a lab's audit); returns where it was written."""
    from memx.report import render_report

    storage, config = run.storage, run.config
    candidates = read_table(storage, CANDIDATES_KEY)
    settings = config.model_dump(mode="json")
    scatter = scatter_sample(run, set(candidates.column("sample_id").to_pylist()))
    from memx.measure import read_discoverable, read_memorization
    from memx.modelinfo import model_facts
    from memx.report.discoverable import discoverable_html

    discoverable = read_discoverable(run)
    html = render_report(settings, run_stats(run), candidates, scatter, redact=redact,
                         metric_names=config.metric_names(), strategies=list(config.generation.strategies),
                         memorization=read_memorization(run), models=model_facts(config),
                         extra_sections=([discoverable_html(discoverable)] if discoverable else []) + (extra_html or []))
    if out:
        try:
            with atomic_local_file(out, "w") as stream:
                stream.write(html)
        except OSError as error:  # unwritable, missing, not a directory: the filesystem says which
            raise ConfigError(f"--out: cannot write {out} ({error.strerror or error})") from None
        return out
    storage.write_bytes(REPORT_KEY, html.encode("utf-8"))
    return storage.uri(REPORT_KEY)
