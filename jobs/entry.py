"""`python -m jobs.X CONFIG`: what every Ray job entrypoint shares (the run at the config's
`{output}/{run_id}`, the work, memx's exit codes). The scheduling itself is `cluster.schedule`."""

from __future__ import annotations

import sys
from typing import Callable

from memx.pipeline.run import Run


def job_main(argv: list[str] | None, description: str, work: Callable[[Run], object]) -> int:
    """A `python -m jobs.X CONFIG` entrypoint (what a Ray job runs): the run at the config's
    `{output}/{run_id}`, `work` on it, and memx's exit codes (jobs.exits)."""
    import argparse

    from jobs.exits import exit_code_of
    from memx.config import load_config
    from memx.pipeline.run import new_run

    parser = argparse.ArgumentParser(description=description.strip().splitlines()[0])
    parser.add_argument("config", help="YAML config (docs/outputs.md)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    def job() -> None:
        run = new_run(load_config(args.config))
        work(run)
        print(f"done: {run.uri}")

    return exit_code_of(job)
