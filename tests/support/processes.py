"""Stopping a server a test started in its own session (process group): SIGTERM, a bounded
grace, then SIGKILL; and finding this test process's own descendants by title (Ray actors,
whose titles are `ray::Class.method`), never another test worker's. It knows processes,
not what they serve."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path


def stop_group(process: subprocess.Popen, grace: float) -> None:
    """Stop `process` and everything in its process group, waiting at most `grace` s for a clean exit."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def own_processes(title_prefix: str) -> list[int]:
    """Pids of this process's descendants whose command line starts with `title_prefix`."""
    out = subprocess.run(["ps", "-eo", "pid,ppid,args"], capture_output=True, text=True).stdout
    parent, titles = {}, {}
    for line in out.splitlines()[1:]:
        pid, ppid, *args = line.split(None, 2)
        parent[int(pid)], titles[int(pid)] = int(ppid), " ".join(args)

    def ours(pid: int) -> bool:
        while pid > 1:
            if pid == os.getpid():
                return True
            pid = parent.get(pid, 1)
        return False

    return [pid for pid, title in titles.items() if title.startswith(title_prefix) and ours(pid)]


def title(pid: int) -> str:
    """The process's title as `ps` shows it (Ray rewrites it per method), "" once it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""
