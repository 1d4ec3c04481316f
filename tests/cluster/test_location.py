"""A run is where the user points (docs/outputs.md#run-is-where-you-point): a finished run copied, synced or uploaded
elsewhere is complete in `status`, inspectable and reportable in place, and `resume` of a
copy redoes a lost shard inside the copy and writes nothing anywhere else. Through the
real CLI, on a local path and on the SeaweedFS S3 server."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pyarrow.fs as pafs
import pytest
import yaml

from tests.support.cli import memx_in_process, memx_process
from tests.support.tiny import run_config

pytestmark = pytest.mark.slow
HEADERS = ("stage", "planned", "committed", "missing", "corrupt", "failed", "done", "rate", "time left")


def finished_run(tmp_path: Path, family: dict, output: str, endpoint_url: str | None = None) -> str:
    raw = run_config(output, family, run_id="moved", endpoint_url=endpoint_url, samples=16, shard_size=8)
    raw["generation"]["strategies"] = ["top_k"]
    path = tmp_path / f"memx-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(raw))
    done = memx_process("run", path, shared_ray=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return f"{output}/moved"


def files_under(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime for p in root.rglob("*") if p.is_file()}


def lose_first_shard(root: Path) -> None:
    """As if a shard had never committed: its samples, its score sidecar and their manifests go."""
    for relative in ("samples/top_k/shard-00000.parquet", "scores/top_k/shard-00000.parquet",
                     "_manifest/samples/top_k/shard-00000.json", "_manifest/scores/top_k/shard-00000.json"):
        (root / relative).unlink()


def assert_usable_in_place(run: str, tmp_path: Path, env: dict | None = None) -> None:
    """status, inspect and report read the run where it lies (in this process: read-only)."""
    env = {key: value for key, value in (env or os.environ).items() if key != "RAY_ADDRESS"}
    status = memx_in_process("status", run, env=env)
    assert status.returncode == 0, status.stderr
    assert "every shard is committed" in status.stdout
    assert run in status.stdout
    header = next(line for line in status.stdout.splitlines() if line.startswith("stage"))
    assert header.split() == [word for h in HEADERS for word in h.split()], header
    assert all(len(line) <= 80 for line in status.stdout.splitlines()[1:3]), status.stdout
    shown = memx_in_process("inspect", run, "--top", "2", env=env)
    assert shown.returncode == 0 and "score" in shown.stdout, shown.stderr
    out = tmp_path / f"report-{uuid.uuid4().hex[:6]}.html"
    written = memx_in_process("report", run, "--out", str(out), env=env)
    assert written.returncode == 0 and out.stat().st_size > 1000, written.stderr


def test_a_local_run_copied_elsewhere_works_there_and_resume_stays_inside_it(tmp_path, tiny_family):
    original = Path(finished_run(tmp_path, tiny_family, str(tmp_path / "first")))
    copy = tmp_path / "elsewhere" / "renamed"
    shutil.copytree(original, copy)
    shutil.rmtree(tmp_path / "first")

    assert_usable_in_place(str(copy), tmp_path)
    lose_first_shard(copy)
    status = memx_in_process("status", copy)
    assert f"memx resume {copy}" in status.stdout, status.stdout
    resumed = memx_process("resume", copy, shared_ray=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (copy / "_manifest/scores/top_k/shard-00000.json").is_file()
    assert not (tmp_path / "first").exists(), "resume of a copy wrote into the original location"
    assert "every shard is committed" in memx_in_process("status", copy).stdout


def _s3(server) -> pafs.S3FileSystem:
    scheme, _, host = server.endpoint.partition("://")
    return pafs.S3FileSystem(endpoint_override=host, scheme=scheme, access_key=server.env["AWS_ACCESS_KEY_ID"],
                             secret_key=server.env["AWS_SECRET_ACCESS_KEY"], region="us-east-1")


def test_s3_run_synced_to_a_laptop_and_a_local_run_uploaded_and_resumed_on_s3(tmp_path, tiny_family, s3_server):
    prefix = f"loc-{uuid.uuid4().hex[:8]}"
    on_s3 = finished_run(tmp_path, tiny_family, f"s3://{s3_server.bucket}/{prefix}", s3_server.endpoint)

    # An S3 run synced to a laptop: inspected there with no credentials and no endpoint at all.
    laptop = tmp_path / "laptop" / "moved"
    pafs.copy_files(on_s3.removeprefix("s3://"), str(laptop), source_filesystem=_s3(s3_server),
                    destination_filesystem=pafs.LocalFileSystem())
    no_credentials = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    assert_usable_in_place(str(laptop), tmp_path, env=no_credentials)

    # A local run uploaded to another prefix, a shard lost there, resumed there.
    uploaded = f"s3://{s3_server.bucket}/{prefix}-uploaded/run"
    pafs.copy_files(str(laptop), uploaded.removeprefix("s3://"), source_filesystem=pafs.LocalFileSystem(),
                    destination_filesystem=_s3(s3_server))
    s3 = _s3(s3_server)
    base = uploaded.removeprefix("s3://")
    for relative in ("samples/top_k/shard-00000.parquet", "_manifest/samples/top_k/shard-00000.json",
                     "scores/top_k/shard-00000.parquet", "_manifest/scores/top_k/shard-00000.json"):
        s3.delete_file(f"{base}/{relative}")
    before_laptop = files_under(laptop)
    before_original = {i.path: i.mtime for i in s3.get_file_info(
        pafs.FileSelector(on_s3.removeprefix("s3://"), recursive=True))}
    resumed = memx_process("resume", uploaded, "--endpoint-url", s3_server.endpoint, shared_ray=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert s3.get_file_info(f"{base}/_manifest/scores/top_k/shard-00000.json").type == pafs.FileType.File
    status = memx_in_process("status", uploaded, "--endpoint-url", s3_server.endpoint)
    assert "every shard is committed" in status.stdout and uploaded in status.stdout
    assert files_under(laptop) == before_laptop, "resume on S3 touched the local copy it came from"
    after_original = {i.path: i.mtime for i in s3.get_file_info(
        pafs.FileSelector(on_s3.removeprefix("s3://"), recursive=True))}
    assert after_original == before_original, "resume of the upload wrote into the run it was copied from"
