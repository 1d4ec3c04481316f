"""`memx generate CONFIG` as a Ray job entrypoint: `python -m jobs.generate CONFIG`.

Runs only the generate stage, only for shards without a manifest (or with a corrupt one).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from memx.cli import main as cli_main

    return cli_main(["generate", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
