"""memx's command line run inside the test process: `jobs.cli.main`, the function the `memx`
script calls, with its exit code, stdout and stderr captured as a subprocess would give them.

For checks that end before any work starts (bad input: exit 2, one line, nothing written)
and for the read-only commands run on a finished run (status, inspect, report), where a
fresh interpreter per call spends seconds importing torch and transformers. Runs and
resumes stay real `memx` processes. It does
not know what a command does. The real `memx` process is still proven on the same kind of
check in tests/core/test_config.py (`test_the_installed_script_says_the_same`).
"""

from __future__ import annotations

import io
import os
import subprocess
from contextlib import redirect_stderr, redirect_stdout
from unittest import mock


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
