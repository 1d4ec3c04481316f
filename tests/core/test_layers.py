"""Layers call one way (ARCHITECTURE.md): importing memx and every module under it loads
neither Ray nor jobs/ nor cluster/. Only memx/cli.py, the command line, calls into jobs/,
and only inside its verbs."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import memx


def test_the_library_never_loads_ray_jobs_or_cluster():
    modules = sorted(m.name for m in pkgutil.walk_packages(memx.__path__, "memx."))
    assert "memx.cli" in modules and "memx.verify.verify" in modules
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('ray', 'jobs', 'cluster'))\n"
        "print(','.join(bad))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "", f"memx imported {proc.stdout.strip()}"


def test_jobs_do_not_call_back_into_the_command_line():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "jobs"
    offenders = [p.name for p in root.glob("*.py") if "memx.cli" in p.read_text()]
    assert offenders == []
