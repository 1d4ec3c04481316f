"""A Ray head started as its own process group on this machine, and the one such head a pytest
worker shares among its pipeline runs.

A `memx run` subprocess with no RAY_ADDRESS starts a local Ray and stops it again: about 7 s
of a 27 s tiny run on the 2-core reference machine (docs/benchmarks.md#suite). The runs that
only need *a* Ray join the worker's shared head instead (`shared_address()`), as a run
submitted to a real cluster would. Tests that kill actors, drivers or nodes keep clusters of
their own, and checks of bad input keep a local Ray (a named cluster skips the checks of local
paths, docs/commands.md). Every head is stopped by its process group and its temp dir, never
by `ray stop`, which would stop the other worker's head too.

It knows how to start and stop Ray, not what runs on it.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support.processes import stop_group
from tests.support.s3server import WeedS3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _PortTaken(Exception):
    """Ray could not bind a port this head picked."""


class RayHead:
    """`ray start --head --block` with 2 CPUs; `dashboard=True` adds the Jobs API on loopback."""

    def __init__(self, log: Path, env: dict[str, str] | None = None, dashboard: bool = False):
        self.port = free_port()
        self.dashboard_port = free_port() if dashboard else None
        self.temp_dir = f"/tmp/rt{random.randrange(10**6)}"  # Ray's socket paths must stay short
        self.log, self.env, self.process = log, env or dict(os.environ), None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 120, attempts: int = 3) -> "RayHead":
        """Start the head; a port another process took between `free_port()` and Ray binding it
        (the other worker's Ray picks ports too) is a fresh set of ports and another try, bounded."""
        for attempt in range(attempts):
            try:
                return self._start_once(timeout)
            except _PortTaken:
                self.stop()
                if attempt + 1 == attempts:
                    raise RuntimeError(f"ray head: ports taken {attempts} times running: {self.log}") from None
                self.port = free_port()
                self.dashboard_port = free_port() if self.dashboard_port else None
                time.sleep(0.5 * 2 ** attempt)
        raise AssertionError("unreachable")

    def _start_once(self, timeout: float) -> "RayHead":
        # The agents' ports default to fixed numbers (52365...): two heads on one machine, one
        # per pytest worker, would fight over them and one would never get its job agent.
        args = [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block", f"--port={self.port}",
                "--node-ip-address=127.0.0.1", "--num-cpus=2", "--disable-usage-stats", f"--temp-dir={self.temp_dir}",
                f"--dashboard-agent-listen-port={free_port()}", f"--metrics-export-port={free_port()}"]
        if self.dashboard_port:
            args += ["--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={self.dashboard_port}"]
        else:
            args += ["--include-dashboard=false"]
        self.process = subprocess.Popen(args, stdout=open(self.log, "w"), stderr=subprocess.STDOUT,
                                        start_new_session=True, env=self.env)
        port = self.dashboard_port or self.port
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                return self
            except OSError:
                if self.process.poll() is not None:
                    text = self.log.read_text()
                    if "already in use" in text or "Failed to start the grpc server" in text:
                        raise _PortTaken() from None
                    raise RuntimeError(text[-2000:]) from None
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"ray head did not come up in {timeout:.0f}s: {self.log}")

    def stop(self) -> None:
        # `ray start --block` takes half a minute to stop gracefully, and nothing of this head
        # outlives the tests: a short grace, then its process group and its temp dir's processes
        if self.process is None:
            return
        stop_group(self.process, grace=2)
        subprocess.run(["pkill", "-9", "-f", self.temp_dir], check=False)
        self.process = None


_SHARED: list[RayHead] = []


def shared_address() -> str:
    """The address of this process's shared head, started on first use (stopped by `stop_shared`).

    Its workers get the test S3 server's fixed credentials (Ray passes the job's MEMX_* and
    MALLOC_* on, never credentials) and no token authentication, which a local Ray has none of either."""
    if not _SHARED:
        env = {**os.environ, **WeedS3.credentials(), "RAY_AUTH_MODE": "disabled"}
        env.pop("RAY_ADDRESS", None)
        log = Path(tempfile.mkdtemp(prefix="memx-shared-ray-")) / "head.log"
        _SHARED.append(RayHead(log, env).start())
    return _SHARED[0].address


def stop_shared() -> None:
    while _SHARED:
        _SHARED.pop().stop()
