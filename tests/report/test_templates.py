"""The report's templates travel with the package: a wheel built from this tree (what a
non-editable `pip install` gets) holds every memx/report/templates/*.j2, and each one
compiles."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from memx.report.render import environment

ROOT = Path(__file__).parents[2]
TEMPLATES = sorted(p.name for p in (ROOT / "memx" / "report" / "templates").glob("*.j2"))


def test_every_template_compiles():
    assert "base.html.j2" in TEMPLATES
    for name in TEMPLATES:
        environment().get_template(name)


@pytest.mark.slow
def test_a_wheel_holds_the_templates(tmp_path):
    source = tmp_path / "src"
    # a copy of what the build reads (pyproject's packages), so the build's egg-info and build/
    # do not land in the working tree, and a virtual environment or lab cache inside the
    # checkout (CI keeps both there) is not copied along
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("memx", "cluster", "jobs"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "dist"), str(source)], check=True, capture_output=True)
    wheel, = (tmp_path / "dist").glob("memx-*.whl")
    inside = {Path(name).name for name in zipfile.ZipFile(wheel).namelist() if name.startswith("memx/report/templates/")}
    assert inside == set(TEMPLATES)
