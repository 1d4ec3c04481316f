"""memx's command line, for tests, two ways.

`memx_process`: the real `memx` process (`python -m jobs.cli`), for runs and resumes; with
`shared_ray` it joins the pytest worker's shared Ray head instead of starting one.

`memx_in_process`: `jobs.cli.main`, the function the `memx` script calls, inside the test
process, with its exit code, stdout and stderr captured as a subprocess would give them. For
checks that end before any work starts (bad input: exit 2, one line, nothing written) and for
the read-only commands on a finished run (status, inspect, report), where a fresh interpreter
per call spends seconds importing torch and transformers. The real `memx` process is still
proven on the same kind of check in tests/core/test_config.py
(`test_the_installed_script_says_the_same`).

It does not know what a command does.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from unittest import mock

from tests.support.ray_head import shared_address


def memx_process(*args, env: dict[str, str] | None = None, timeout: float = 900, cwd=None,
                 shared_ray: bool = False) -> subprocess.CompletedProcess:
    """`python -m jobs.cli ARGS` with `env` (default: this one's) less RAY_ADDRESS, so a run
    starts a local Ray of its own, or, with `shared_ray`, joins the worker's shared head
    (tests/support/ray_head.py): for runs that are to finish, not for checks of bad input."""
    env = {key: value for key, value in (env or os.environ).items() if key != "RAY_ADDRESS"}
    if shared_ray:
        env["RAY_ADDRESS"] = shared_address()
    return subprocess.run([sys.executable, "-m", "jobs.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=cwd)


def memx_in_process(*args: str, env: dict[str, str] | None = None, cwd=None) -> subprocess.CompletedProcess:
    """`memx ARGS` in this process; `env`, as for a subprocess, is the whole environment it
    sees (default: this one). RAY_ADDRESS is unset (as the subprocess tests do) so a check
    that wrongly let a run start would start a Ray of its own, never join a test's."""
    from jobs.cli import main

    out, err = io.StringIO(), io.StringIO()
    before = os.getcwd()
    with mock.patch.dict(os.environ, env or {}, clear=env is not None), redirect_stdout(out), redirect_stderr(err):
        os.environ.pop("RAY_ADDRESS", None)
        try:
            if cwd is not None:
                os.chdir(cwd)
            code = main([str(a) for a in args])
        finally:
            os.chdir(before)
    return subprocess.CompletedProcess(["memx", *args], code, out.getvalue(), err.getvalue())
