"""`memx run` / `memx resume` as a Ray job: the run's sharded stages (generate, score, verify,
extraction; overlapped when the cluster has room), then its whole-run steps (candidates,
verify, memorization.json, discoverable.json, extraction.json, report.html), each declared
once in `memx.pipeline.stages` / `memx.pipeline.steps`.

Usable as `python -m jobs.run CONFIG` (what `memx submit` sends to the Ray Jobs API) or
from the CLI. Every stage skips what is already committed, so a rerun or `resume` after
any failure does only the missing work. It takes a `Run` whose storage the caller
resolved; it never decides where a run lives.
"""

from __future__ import annotations

import sys
import time
from typing import Callable

from cluster.schedule import start_and_run
from memx.pipeline.run import Run
from memx.pipeline.stages import VERIFIED
from memx.pipeline.steps import Options, run_steps


def log_stage_results(results: dict, log: Callable[[str], object]) -> None:
    """One line per sharded stage that ran: shards, rows, seconds (and actor restarts)."""
    for stage, result in results.items():
        log(f"{stage}: {len(result.done)} shards, {result.rows} rows in {result.seconds:.1f}s"
            + (f", {result.actor_restarts} actor restarts" if result.actor_restarts else ""))


def verify_run(run: Run, log: Callable[[str], object] = print) -> None:
    """`memx verify`: with `scope: all` every sample's verified shard first (on Ray), then the
    steps that verify the candidates and write memorization.json."""
    if run.config.verify is not None and run.config.verify.scope == "all":
        log_stage_results(start_and_run(run, (VERIFIED,)), log)
    run_steps(run, log, names=("verify", "memorization"))


def run_pipeline(run: Run, show_progress: bool = True, log=print, redact: bool = True,
                 report_extra: list | Callable[[Run], list] | None = None) -> dict:
    """Every stage of the run, then every whole-run step; `report_extra`: sections the report
    adds (the demo's lab audit), or a function of the run that makes them once every stage is
    done (the lab's canaries in extraction.json's windows). Returns seconds per phase."""
    started = time.time()
    results = start_and_run(run, show_progress=show_progress)
    timings = {"generate+score": time.time() - started}
    log_stage_results(results, log)
    run_steps(run, log, options=Options(redact=redact, report_extra=report_extra), timings=timings)
    return timings


def main(argv: list[str] | None = None) -> int:
    from jobs.entry import job_main

    return job_main(argv, __doc__, run_pipeline)


if __name__ == "__main__":
    sys.exit(main())
