"""`memx score CONFIG` as a Ray job entrypoint: `python -m jobs.score CONFIG`.

Runs only the score stage, only for shards without a manifest (or with a corrupt one).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from jobs.common import job_main, start_and_run
    from memx.stagedefs import SCORES

    return job_main(argv, __doc__, lambda run: start_and_run(run, (SCORES,)))


if __name__ == "__main__":
    sys.exit(main())
