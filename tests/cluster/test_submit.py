"""`memx submit` through the Ray Jobs API against a real head started with `ray start --head`;
the job runs the config to the end. The head is stopped by its process group, so the test
never touches any other Ray on the machine."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
import yaml

from tests.support.ray_head import RayHead
from tests.support.tiny import run_config


@pytest.fixture
def ray_head(tmp_path):
    # a head with token authentication, as Ray starts them by default, with this test's own token
    token = tmp_path / "auth_token"
    token.write_text(secrets.token_hex(32))
    head_env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}
    head_env.pop("RAY_ADDRESS", None)
    head = RayHead(tmp_path / "head.log", head_env, dashboard=True).start()
    try:
        yield f"http://127.0.0.1:{head.dashboard_port}"
    finally:
        head.stop()


def test_submit_runs_the_config_to_the_end(ray_head, tmp_path, tiny_family):
    raw = run_config(str(tmp_path / "out"), tiny_family, run_id="submitted", samples=8, shard_size=4)
    path = tmp_path / "memx.yaml"
    path.write_text(yaml.safe_dump(raw))
    # the submitter holds the token but sets no mode: memx presents the token itself
    env = {key: value for key, value in os.environ.items() if key != "RAY_AUTH_MODE"}
    env["RAY_AUTH_TOKEN_PATH"] = str(tmp_path / "auth_token")
    proc = subprocess.run([sys.executable, "-m", "jobs.cli", "submit", str(path), "--address", ray_head, "--wait"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "job id: memx-submitted-" in proc.stdout
    # the job's own output reached the submitter while it followed the job, then its end state
    assert "report: " in proc.stdout and f"done: {tmp_path / 'out' / 'submitted'}" in proc.stdout
    assert proc.stdout.rstrip().endswith("SUCCEEDED")
    run_dir = tmp_path / "out" / "submitted"
    candidates = pq.read_table(run_dir / "candidates.parquet")
    assert candidates.num_rows > 0
    assert (run_dir / "report.html").exists()
    assert len(list((run_dir / "_manifest" / "scores").rglob("shard-*.json"))) == 6


class _HeadWithoutAgent:
    """A Jobs client whose head has no job agent for its first `busy` calls (Ray's own 500)."""

    def __init__(self, busy: int):
        self.busy, self.calls = busy, 0

    def submit_job(self, **job):
        self.calls += 1
        if self.calls <= self.busy:
            raise RuntimeError("Request failed with status code 500: No available agent to submit job, "
                               "please try again later..")
        return job["submission_id"]


def test_submit_waits_for_the_job_agent_a_bounded_number_of_times(monkeypatch):
    from jobs import submit
    from memx.errors import MemxFailure

    monkeypatch.setattr(submit, "SUBMIT_WAIT_S", 0.0)
    late = _HeadWithoutAgent(busy=3)
    assert submit._submit(late, {"submission_id": "memx-x-1"}, "http://head:8265") == "memx-x-1"
    assert late.calls == 4
    never = _HeadWithoutAgent(busy=100)
    with pytest.raises(MemxFailure, match="no job agent ready after 6 tries"):
        submit._submit(never, {"submission_id": "memx-x-2"}, "http://head:8265")
    assert never.calls == submit.SUBMIT_TRIES
