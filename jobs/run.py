"""`memx run` / `memx resume` as a Ray job: generate -> score (overlapped when the cluster has
room) -> reduce -> verify (when configured) -> report, with the `extraction` stage and
extraction.json when the config has that section (alone with `strategies: []`, SPEC §9).

Usable as `python -m jobs.run CONFIG` (what `memx submit` sends to the Ray Jobs API) or
from the CLI. Every stage skips what is already committed, so a rerun or `resume` after
any failure does only the missing work. It takes a `Run` whose storage the caller
resolved; it never decides where a run lives.
"""

from __future__ import annotations

import sys
import time
from typing import Callable

import pyarrow as pa

from memx.memorization import MEMORIZATION_KEY
from memx.runstate import Run


def finished(run: Run) -> bool:
    """True when every shard is committed and every result object of the run is written."""
    from memx.candidates import CANDIDATES_KEY, read_table
    from memx.memorization import DISCOVERABLE_KEY
    from memx.runreport import REPORT_KEY
    from memx.status import run_status

    from memx.extraction.results import EXTRACTION_KEY

    storage, config = run.storage, run.config
    if any(s.todo for s in run_status(run).values()):
        return False
    if not storage.exists(REPORT_KEY):
        return False
    if config.extraction is not None and not storage.exists(EXTRACTION_KEY):
        return False
    if not config.generation.strategies:  # an extraction-only run (SPEC §9): no candidates
        return True
    if not storage.exists(CANDIDATES_KEY):
        return False
    if config.verify is not None and config.verify.scope == "all" and not storage.exists(MEMORIZATION_KEY):
        return False
    if "prefix" in config.generation.strategies and not storage.exists(DISCOVERABLE_KEY):
        return False
    return config.verify is None or "memorized" in read_table(storage, CANDIDATES_KEY).column_names


def log_stage_results(results: dict, log: Callable[[str], object]) -> None:
    """One line per sharded stage that ran: shards, rows, seconds (and actor restarts)."""
    for stage, result in results.items():
        log(f"{stage}: {len(result.done)} shards, {result.rows} rows in {result.seconds:.1f}s"
            + (f", {result.actor_restarts} actor restarts" if result.actor_restarts else ""))


def verify_run(run: Run, log: Callable[[str], object] = print, shards_done: bool = False) -> pa.Table:
    """The verify sequence, the one place it is written: with `scope: all` every sample's
    verified shard first (on Ray, unless `shards_done`: the pipeline ran them beside
    generation), then the candidates against the index, then memorization.json."""
    from jobs.common import start_and_run
    from memx.candidates import verify_stage
    from memx.memorization import memorization_stage
    from memx.stagedefs import VERIFIED

    every_sample = run.config.verify is not None and run.config.verify.scope == "all"
    if every_sample and not shards_done:
        log_stage_results(start_and_run(run, (VERIFIED,)), log)
    candidates = verify_stage(run)
    log(f"verify: {candidates.num_rows} candidate rows, {sum(candidates.column('memorized').to_pylist())} memorized")
    if every_sample:
        memorization = memorization_stage(run)
        memorized = sum(s["memorized"] for s in memorization["strategies"].values())
        total = sum(s["samples"] for s in memorization["strategies"].values())
        log(f"memorization: {memorized} of {total} samples hold a memorized span "
            f"({run.storage.uri(MEMORIZATION_KEY)})")
    return candidates


def _sections(extra, run: Run) -> list[str] | None:
    return extra(run) if callable(extra) else extra


def extraction_results(run: Run, log: Callable[[str], object] = print) -> dict:
    """extraction.json from the committed `extraction` shards, and its headline in the log."""
    from memx.extraction.results import EXTRACTION_KEY, extraction_stage
    from memx.report.extraction import extraction_headline

    summary = extraction_stage(run)
    for line in extraction_headline(summary):
        log(line)
    log(f"extraction: {run.storage.uri(EXTRACTION_KEY)}")
    return summary


def run_pipeline(run: Run, show_progress: bool = True, log=print, redact: bool = True,
                 report_extra: list[str] | Callable[[Run], list[str]] | None = None) -> dict:
    """Every stage of the run; `report_extra`: HTML sections the report adds (the demo's lab audit),
    or a function of the run that makes them once every stage is done (the lab's canaries in
    extraction.json's windows)."""
    from jobs.common import start_and_run
    from memx.candidates import reduce_stage
    from memx.memorization import discoverable_stage
    from memx.runreport import report_stage

    timings = {}
    started = time.time()
    results = start_and_run(run, show_progress=show_progress)
    timings["generate+score"] = time.time() - started
    log_stage_results(results, log)
    if run.config.extraction is not None:
        extraction_results(run, log)
    if not run.config.generation.strategies:  # extraction only (SPEC §9): no candidates to reduce
        log(f"report: {report_stage(run, redact=redact, extra_html=_sections(report_extra, run))}")
        return timings
    started = time.time()
    candidates = reduce_stage(run)
    timings["reduce"] = time.time() - started
    log(f"reduce: {candidates.num_rows} candidate rows")
    if run.config.verify is not None:
        started = time.time()
        verify_run(run, log, shards_done=True)
        timings["verify"] = time.time() - started
    if "prefix" in run.config.generation.strategies:
        discoverable = discoverable_stage(run)["strategies"]["prefix"]
        log(f"discoverable: {discoverable['exact']} of {discoverable['rows']} prefix continuations equal the "
            "true suffix (discoverable.json)")
    where = report_stage(run, redact=redact, extra_html=_sections(report_extra, run))
    log(f"report: {where}")
    return timings


def main(argv: list[str] | None = None) -> int:
    from jobs.common import job_main

    return job_main(argv, __doc__, run_pipeline)


if __name__ == "__main__":
    sys.exit(main())
