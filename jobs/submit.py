"""`memx submit`: send `python -m jobs.run` to a Ray cluster through the Ray Jobs API.

The job's runtime environment carries the config file (working_dir) and this checkout's
`memx`, `cluster` and `jobs` packages (py_modules), so the cluster runs the submitter's
version; torch, transformers and friends come from the cluster image. Credentials are
never put in the runtime environment: the cluster has its own (instance profile, secret).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time

from rich.console import Console

from memx.config import Config
from memx.errors import MemxFailure

TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}
# After the log stream ends the job's state turns terminal within moments; a bounded wait for it.
STATE_WAIT_S, STATE_POLL_S = 60.0, 0.5
SUBMIT_TRIES, SUBMIT_WAIT_S = 6, 2.0  # waits of 2, 4, 8, 16, 32 s between the tries


def _package_dirs() -> list[str]:
    import cluster
    import jobs
    import memx

    return [os.path.dirname(module.__file__) for module in (memx, cluster, jobs)]


def _use_token_if_present() -> None:
    """Ray's token authentication: a head started where a token exists requires it, but the
    Jobs client only sends it in `token` mode. Present a token the user already has, unless
    they chose a mode themselves."""
    if os.environ.get("RAY_AUTH_MODE"):
        return
    path = os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.expanduser("~/.ray/auth_token")
    if os.environ.get("RAY_AUTH_TOKEN") or os.path.isfile(path):
        os.environ["RAY_AUTH_MODE"] = "token"


def submit_run(config: Config, config_path: str, address: str, wait: bool, console: Console) -> int:
    _use_token_if_present()  # before Ray is imported: it reads the mode once
    from ray.exceptions import AuthenticationError
    from ray.job_submission import JobSubmissionClient

    try:
        client = JobSubmissionClient(address)
    except AuthenticationError:
        raise MemxFailure(f"the Ray cluster at {address} wants a token: set RAY_AUTH_TOKEN or "
                          "RAY_AUTH_TOKEN_PATH (see `ray get-auth-token`)") from None
    except ConnectionError as error:
        raise MemxFailure(f"no Ray Jobs API at {address}: {error}".splitlines()[0]) from None
    staging = tempfile.mkdtemp(prefix="memx-submit-")
    try:
        shutil.copy(config_path, os.path.join(staging, "memx.yaml"))
        job_id = _submit(client, dict(
            entrypoint="python -m jobs.run memx.yaml",
            runtime_env={"working_dir": staging, "py_modules": _package_dirs()},
            metadata={"memx_run": config.run_uri},
            submission_id=f"memx-{config.run_id}-{int(time.time())}",
        ), address)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    console.print(f"job id: {job_id}\noutputs: {config.run_uri}\nfollow: memx status {config.run_uri}")
    if not wait:
        return 0
    state = _follow(client, job_id, config.run_uri, console)
    console.print(f"job {job_id}: {state}")
    return 0 if state == "SUCCEEDED" else 1


def _submit(client, job: dict, address: str) -> str:
    """Submit, retrying while the head says it has no job agent yet: a head answers its HTTP
    API before the agent that runs jobs has registered (seconds after `ray start`, longer on
    a loaded machine). Bounded: SUBMIT_TRIES tries with doubling waits, about a minute."""
    for attempt in range(SUBMIT_TRIES):
        try:
            return client.submit_job(**job)
        except RuntimeError as error:
            if "No available agent" not in str(error):
                raise
            if attempt == SUBMIT_TRIES - 1:
                raise MemxFailure(f"the Ray cluster at {address} has no job agent ready after {SUBMIT_TRIES} "
                                  "tries over about a minute; check `ray status` there and submit again") from None
            time.sleep(SUBMIT_WAIT_S * 2 ** attempt)
    raise AssertionError("unreachable")


def _follow(client, job_id: str, run_uri: str, console: Console) -> str:
    """Print the job's logs as its driver writes them (Ray's log stream, which ends with the
    job), then return its terminal state."""
    async def tail() -> None:
        async for chunk in client.tail_job_logs(job_id):
            console.out(chunk, end="")

    try:
        asyncio.run(tail())
    except RuntimeError as error:  # the stream broke off; the job itself goes on
        raise MemxFailure(f"lost the log stream of job {job_id} ({error}); it keeps running: follow it with "
                          f"`ray job logs --follow {job_id}` or `memx status {run_uri}`") from None
    deadline = time.monotonic() + STATE_WAIT_S
    while True:
        status = client.get_job_status(job_id)
        state = str(getattr(status, "value", status))  # a JobStatus, a str enum
        if state in TERMINAL or time.monotonic() > deadline:
            return state
        time.sleep(STATE_POLL_S)
