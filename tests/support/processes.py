"""Stopping a server a test started in its own session (process group): SIGTERM, a bounded
grace, then SIGKILL. It knows processes, not what they serve."""

from __future__ import annotations

import os
import signal
import subprocess


def stop_group(process: subprocess.Popen, grace: float) -> None:
    """Stop `process` and everything in its process group, waiting at most `grace` s for a clean exit."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
