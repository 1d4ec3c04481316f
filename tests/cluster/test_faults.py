"""Faults on a real multi-node Ray cluster simulated on this machine: a generation actor
killed with SIGKILL mid-shard, and the S3 server stopped mid-run. Nothing may be lost or
duplicated, and a redone shard must equal a clean run's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import yaml

import ray
from ray.cluster_utils import Cluster

from cluster.schedule import run_shard_stages
from memx.config import parse_config
from memx.shards import read_shard
from memx.pipeline.runners import GenerateRunner, ScoreRunner
from memx.pipeline.status import stage_status
from memx.pipeline.run import new_run
from tests.support.cli import memx_in_process
from tests.support.processes import own_processes, title
from tests.support.s3server import WeedS3
from tests.support.tiny import run_config


@pytest.fixture(scope="module")
def two_node_cluster(s3_server):
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    for _ in range(2):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address)
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


def _sample_ids(storage, config) -> list[str]:
    return [sid for spec in new_run(config).plan("samples")
            for sid in read_shard(storage, spec, ["sample_id"]).column("sample_id").to_pylist()]


class Killer(threading.Thread):
    """SIGKILLs the first actor process it sees inside `run` (i.e. mid-shard): this test's
    ShardActor processes (Ray titles them `ray::Class.method`)."""

    def __init__(self, delay: float = 0.05):
        super().__init__(daemon=True)
        self.delay, self.killed = delay, []

    def run(self) -> None:
        # generous: on a loaded 2-core machine the actors can take minutes to start their first shard
        deadline = time.time() + 360
        actors, listed = [], 0.0
        while time.time() < deadline and not self.killed:
            # Listing every process (`ps`) costs a fork and a /proc walk: a few times a second.
            # Reading the known actors' titles is cheap enough to catch a short shard.
            if time.time() - listed > 0.25:
                actors, listed = own_processes("ray::ShardActor"), time.time()
            inside = [pid for pid in actors if title(pid).startswith("ray::ShardActor.run")]
            if inside:
                time.sleep(self.delay)
                os.kill(inside[0], signal.SIGKILL)
                self.killed.append(inside[0])
            time.sleep(0.01)


def stage_with_an_actor_killed(run, stage: str, delay: float = 0.05):
    """One shard stage run while a Killer SIGKILLs the first actor it sees inside a shard;
    the kill must land and the pool must restart the actor. Returns the stage's result."""
    killer = Killer(delay=delay)
    killer.start()
    results = run_shard_stages(run, stages=(stage,), show_progress=False)[stage]
    killer.join(timeout=5)
    assert killer.killed, "the test never caught an actor inside a shard"
    assert results.actor_restarts >= 1
    return results


@pytest.mark.parametrize("strategy", ["top_k", "divergence"])
def test_sigkill_of_a_generation_actor_mid_shard(two_node_cluster, tmp_path, tiny_family, strategy):
    raw = run_config(str(tmp_path / "out"), tiny_family, samples=32, shard_size=8, cluster={"actors": 2})
    raw["generation"].update(strategies=[strategy], max_new_tokens=160, batch_size=4,
                             divergence={"max_new_tokens": 160, "repeats": [1, 5]})  # no template: the message alone
    config = parse_config(raw)
    stage_with_an_actor_killed(new_run(config), "samples")
    storage = new_run(config).storage
    ids = _sample_ids(storage, config)
    assert len(ids) == len(set(ids)) == 32, "every planned sample_id exactly once"
    assert stage_status(new_run(config), "samples").todo == []
    # Every shard, the redone one included, equals a clean single-process generation of its spec.
    clean = GenerateRunner(new_run(parse_config({**raw, "output": str(tmp_path / "clean")})), device="cpu", num_threads=1)
    for spec in new_run(config).plan("samples"):
        clean.run(spec)
        assert read_shard(storage, spec).equals(read_shard(clean.storage, spec)), spec.key


def test_s3_stopped_mid_run_fails_clearly_then_resume_completes(two_node_cluster, tmp_path, tiny_family):
    server = WeedS3(tmp_path / "weed").start()
    try:
        raw = run_config(f"s3://{server.bucket}/outage", tiny_family, run_id="outage", endpoint_url=server.endpoint,
                         samples=48, shard_size=4, cluster={"actors": 2})
        raw["generation"].update(strategies=["top_k"], max_new_tokens=96, batch_size=4)
        path = tmp_path / "memx.yaml"
        path.write_text(yaml.safe_dump(raw))
        env = {**os.environ, "RAY_ADDRESS": two_node_cluster.address, "MEMX_STORAGE_ATTEMPTS": "3"}
        proc = subprocess.Popen([sys.executable, "-m", "jobs.cli", "generate", str(path)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        config = parse_config(raw)
        storage = new_run(config).storage
        deadline = time.time() + 120
        while time.time() < deadline and len(stage_status(new_run(config), "samples", False).committed) < 2:
            time.sleep(0.2)
        server.stop()
        _, stderr = proc.communicate(timeout=180)
        assert proc.returncode == 1, stderr
        errors = [line for line in stderr.splitlines() if line.startswith("memx: error:")]
        assert len(errors) == 1 and server.endpoint in errors[0] and "memx resume" in errors[0], stderr[-2000:]
        assert server.env["AWS_SECRET_ACCESS_KEY"] not in stderr

        server.start()
        before = stage_status(new_run(config), "samples")
        assert 0 < len(before.committed) < 12
        proc = subprocess.run([sys.executable, "-m", "jobs.cli", "generate", str(path)], env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        after = stage_status(new_run(config), "samples")
        assert after.todo == [] and len(after.committed) == 12
        ids = _sample_ids(storage, config)
        assert len(ids) == len(set(ids)) == 48
    finally:
        server.stop()


def test_sigkill_of_a_scorer_actor_mid_shard(two_node_cluster, tmp_path, tiny_family):
    raw = run_config(str(tmp_path / "out"), tiny_family, samples=96, shard_size=48, cluster={"actors": 2})
    raw["generation"].update(strategies=["top_k"], max_new_tokens=128, batch_size=48)
    raw["scoring"]["batch_size"] = 4  # a scorer spends a while inside each shard
    config = parse_config(raw)
    run_shard_stages(new_run(config), stages=("samples",), show_progress=False)
    stage_with_an_actor_killed(new_run(config), "scores", delay=0.02)
    storage = new_run(config).storage
    clean = ScoreRunner(new_run(parse_config({**raw, "output": str(tmp_path / "out")})), device="cpu", num_threads=1)
    for spec in new_run(config).plan("scores"):
        scores = read_shard(storage, spec)
        samples = read_shard(storage, spec.in_stage("samples"), ["sample_id"])
        assert scores.column("sample_id").to_pylist() == samples.column("sample_id").to_pylist()
        expected = clean.rows(spec)
        for name in expected.column_names:
            if name.startswith(("score_", "nll_")):
                assert expected.column(name).to_pylist() == pytest.approx(scores.column(name).to_pylist(), abs=1e-5)
    assert len(storage.list("_manifest/scores")) == 2


def test_driver_killed_mid_run_then_resume_equals_uninterrupted(two_node_cluster, tmp_path, tiny_family):
    from jobs.run import run_pipeline
    from memx.pipeline.candidates import CANDIDATES_KEY, read_table
    from memx.shards import committed_manifests

    raw = run_config(str(tmp_path / "out"), tiny_family, run_id="killed", samples=32, shard_size=4,
                     cluster={"actors": 2})
    raw["generation"].update(strategies=["top_k", "internet"], max_new_tokens=64, batch_size=4)
    path = tmp_path / "memx.yaml"
    path.write_text(yaml.safe_dump(raw))
    config = parse_config(raw)
    storage = new_run(config).storage
    env = {**os.environ, "RAY_ADDRESS": two_node_cluster.address}
    driver = subprocess.Popen([sys.executable, "-m", "jobs.cli", "run", str(path)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 180
    while time.time() < deadline and len(committed_manifests(storage, "samples")) < 3:
        time.sleep(0.1)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait(timeout=30)
    time.sleep(1.0)  # the driver's actors die with it; let them go before counting

    before = {key: m["committed_at"] for key, m in committed_manifests(storage, "samples").items()}
    assert 3 <= len(before) < 16
    status = memx_in_process("status", config.run_uri)
    assert status.returncode == 0, status.stderr
    assert "memx resume" in status.stdout
    as_json = memx_in_process("status", config.run_uri, "--json")
    samples = json.loads(as_json.stdout)["stages"]["samples"]
    assert (samples["planned"], samples["committed"], len(samples["missing"])) == (16, len(before), 16 - len(before))

    # No RAY_ADDRESS for the resume, with the cluster still running on this machine: memx
    # starts a Ray of its own beside it (it once crashed there, joining that cluster).
    no_address = {key: value for key, value in env.items() if key != "RAY_ADDRESS"}
    resumed = subprocess.run([sys.executable, "-m", "jobs.cli", "resume", config.run_uri], env=no_address,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    after = committed_manifests(storage, "samples")
    assert len(after) == 16
    regenerated = [key for key, m in after.items() if before.get(key) != m["committed_at"]]
    assert len(regenerated) == 16 - len(before), "resume redid only the missing shards"
    again = subprocess.run([sys.executable, "-m", "jobs.cli", "resume", config.run_uri], env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "nothing to resume" in again.stdout

    clean_config = parse_config({**raw, "output": str(tmp_path / "clean")})
    run_pipeline(new_run(clean_config), show_progress=False, log=lambda *_: None)
    interrupted = read_table(storage, CANDIDATES_KEY).sort_by([("metric", "ascending"), ("sample_id", "ascending")])
    clean = read_table(new_run(clean_config).storage, CANDIDATES_KEY).sort_by([("metric", "ascending"), ("sample_id", "ascending")])
    assert interrupted.num_rows > 0
    for column in ("sample_id", "metric", "rank", "text"):
        assert interrupted.column(column).to_pylist() == clean.column(column).to_pylist(), column
    assert interrupted.column("score").to_pylist() == pytest.approx(clean.column("score").to_pylist(), abs=1e-6)


def test_sigkill_of_a_verify_actor_mid_shard_verifies_every_sample_once(two_node_cluster, tmp_path, tiny_family):
    from cluster.actors import Placement
    from cluster.pool import StageWork, run_stages
    from memx.index import build_index
    from memx.pipeline.runners import VerifyRunner

    build_index([tiny_family["prompts"]], tmp_path / "index", progress=False)
    raw = run_config(str(tmp_path / "out"), tiny_family, samples=48, shard_size=8, cluster={"actors": 2})
    raw["generation"].update(strategies=["top_k", "internet"], max_new_tokens=32)
    raw["verify"] = {"index": str(tmp_path / "index"), "min_match_tokens": 4, "scope": "all"}
    run = new_run(parse_config(raw))
    run_shard_stages(run, stages=("samples",), show_progress=False)
    specs = run.plan("verified")
    killer = Killer(delay=0.2)
    killer.start()
    work = StageWork("verified", specs, Placement(2, 0.0, 1.0, 1), runner="tests.cluster.runners:SlowVerifyRunner")
    result = run_stages(run, [work], show_progress=False)["verified"]
    killer.join(timeout=5)
    assert killer.killed and result.actor_restarts >= 1
    assert stage_status(run, "verified").todo == []
    verified_ids = [sid for spec in specs for sid in read_shard(run.storage, spec, ["sample_id"]).column("sample_id").to_pylist()]
    assert sorted(verified_ids) == sorted(_sample_ids(run.storage, run.config)) and len(set(verified_ids)) == 96
    assert len(run.storage.list("_manifest/verified")) == len(specs) == 12
    clean = VerifyRunner(run, device="cpu", num_threads=1)
    for spec in specs:
        assert read_shard(run.storage, spec).equals(clean.rows(spec)), spec.key


def test_sigkill_of_an_extraction_actor_mid_shard_scores_every_window_once(two_node_cluster, tmp_path, tiny_family):
    from memx.extraction.documents import encode_with_offsets
    from memx.pipeline.runners import ExtractionRunner
    from memx.extraction.windows import window_offsets
    from memx.pipeline.stages import EXTRACTION
    from tests.support.tiny import prose

    source = tmp_path / "docs.jsonl"
    texts = [prose(60, seed=s) for s in range(6)]  # ~2,000 tokens each: a shard takes a while
    source.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    raw = run_config(str(tmp_path / "out"), tiny_family, cluster={"actors": 2})
    raw["generation"] = {"strategies": []}
    raw["extraction"] = {"source": str(source), "documents": "all", "shard_documents": 1, "prefix_tokens": [8, 16],
                         "suffix_tokens": 16, "stride_tokens": 1, "decoding": {"top_k": 40}, "batch_size": 32}
    config = parse_config(raw)
    stage_with_an_actor_killed(new_run(config), EXTRACTION, delay=0.3)
    run = new_run(config)
    assert stage_status(run, EXTRACTION).todo == []
    seen = [key for spec in run.plan(EXTRACTION)
            for key in zip(*(read_shard(run.storage, spec, ["document", "prefix_tokens", "offset"])
                             .column(c).to_pylist() for c in ("document", "prefix_tokens", "offset")))]
    from memx.models import load_causal_lm

    tokenizer = load_causal_lm(tiny_family["xl"], "float32", "cpu").tokenizer
    expected = {(d, k, int(o)) for d, doc in enumerate(encode_with_offsets(tokenizer, texts)) for k in (8, 16)
                for o in window_offsets(len(doc.ids), k, 16, 1)}
    assert len(seen) == len(set(seen)) and set(seen) == expected, "every window exactly once"
    # every shard, the redone one included, equals a clean single-process run of its spec
    clean = ExtractionRunner(new_run(parse_config({**raw, "output": str(tmp_path / "clean")})), device="cpu",
                             num_threads=1)
    for spec in run.plan(EXTRACTION):
        clean.run(spec)
        assert read_shard(run.storage, spec).equals(read_shard(clean.storage, spec)), spec.key
