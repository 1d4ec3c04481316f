"""How a memx process ends: the one mapping of what a command raised to its exit code.

Both front doors use it: the `memx` command line (jobs/cli.py) and the `python -m jobs.X
CONFIG` entrypoints a Ray job runs (jobs/entry.py). 0 success, 2 bad input (a ConfigError:
one line naming the field), 1 a runtime failure (a MemxFailure: with what to do next), 130
interrupted; click's usage errors keep their own code (2). It knows nothing of what the
command does, only how its errors are told to the user.
"""

from __future__ import annotations

import logging
import sys
from typing import Callable

import click
import typer

from memx.errors import MemxError

INTERRUPTED = 130


def exit_code_of(work: Callable[[], object]) -> int:
    """Run `work` and return the process's exit code; memx's errors become one line on stderr.
    An int `work` returns is the code it chose (a typer app run with standalone_mode=False
    returns the code of a `typer.Exit` that way)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        chosen = work()
    except MemxError as error:
        print(f"memx: error: {error}", file=sys.stderr)
        return error.exit_code
    except (typer.Exit, click.exceptions.Exit) as done:
        return done.exit_code
    except (typer.Abort, click.exceptions.Abort, KeyboardInterrupt):
        print("memx: interrupted; `memx resume RUN` continues where this stopped", file=sys.stderr)
        return INTERRUPTED
    except click.ClickException as error:  # usage errors: click prints them as it would alone
        error.show()
        return error.exit_code
    return chosen if isinstance(chosen, int) else 0
