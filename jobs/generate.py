"""`memx generate CONFIG` as a Ray job entrypoint: `python -m jobs.generate CONFIG`.

Runs only the generate stage, only for shards without a manifest (or with a corrupt one).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from cluster.schedule import start_and_run
    from jobs.entry import job_main
    from memx.pipeline.stages import SAMPLES

    return job_main(argv, __doc__, lambda run: start_and_run(run, (SAMPLES,)))


if __name__ == "__main__":
    sys.exit(main())
