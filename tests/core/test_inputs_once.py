"""Inputs are resolved once per process: a prefix shard over a source of several S3 files
opens every file it needs through the Storage its runner built when it scanned the
source, never a new one per file (it used to be one Storage, and one S3 client, per file
opened); an actor's Run rebuilt from the wire does the same."""

from __future__ import annotations

import json
import uuid

import pyarrow.fs as pafs
import pytest

from memx import storage as storage_module
from memx.config import parse_config
from memx.pipeline.run import Run, new_run
from tests.support.tiny import build_family, prose, run_config

FILES = 4


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    return build_family(tmp_path_factory.mktemp("family"))


@pytest.fixture
def s3_source(s3_server) -> str:
    """s3://bucket/src-xxxx/ holding FILES jsonl files of 5 documents each."""
    host = s3_server.endpoint.split("://", 1)[1]
    s3 = pafs.S3FileSystem(endpoint_override=host, scheme="http", region="us-east-1",
                           access_key=s3_server.env["AWS_ACCESS_KEY_ID"],
                           secret_key=s3_server.env["AWS_SECRET_ACCESS_KEY"])
    prefix = f"{s3_server.bucket}/src-{uuid.uuid4().hex[:8]}"
    for f in range(FILES):
        with s3.open_output_stream(f"{prefix}/part-{f:02d}.jsonl") as out:
            out.write("".join(json.dumps({"text": prose(12, seed=f * 10 + d)}) + "\n" for d in range(5)).encode())
    return f"s3://{prefix}/"


@pytest.fixture
def spy(monkeypatch):
    """Records every Storage built (its root) and every input file opened through one."""
    built, opened = [], []
    init, open_file = storage_module.Storage.__init__, storage_module.Storage.open_input_file

    def counting_init(self, root, *args, **kwargs):
        built.append(root)
        init(self, root, *args, **kwargs)

    def counting_open(self, key):
        opened.append(key)
        return open_file(self, key)

    monkeypatch.setattr(storage_module.Storage, "__init__", counting_init)
    monkeypatch.setattr(storage_module.Storage, "open_input_file", counting_open)
    return built, opened


def _prefix_run(tmp_path, family, source: str, endpoint: str) -> Run:
    raw = run_config(str(tmp_path / "out"), family, samples=16, shard_size=16, endpoint_url=endpoint,
                     references=[], scoring={"metrics": ["perplexity"]})
    raw["generation"]["strategies"] = ["prefix"]
    raw["generation"]["prefix"] = {"source": source, "prefix_tokens": 12, "suffix_tokens": 8}
    return new_run(parse_config(raw))


def test_a_prefix_shard_over_several_s3_files_builds_no_storage_per_file(tmp_path, family, s3_server, s3_source,
                                                                        spy):
    from memx.pipeline.runners import GenerateRunner

    built, opened = spy
    run = _prefix_run(tmp_path, family, s3_source, s3_server.endpoint)
    built.clear()
    runner = GenerateRunner(run)
    assert built == [f"s3://{s3_server.bucket}"], "the scan builds the bucket's Storage once"
    built.clear()
    opened.clear()
    result = runner.run(run.plan("samples")[0])
    files_read = {key for key in opened if key.endswith(".jsonl")}
    assert result["rows"] == 16 and len(files_read) >= 2, (result, opened)
    assert built == [], f"{len(built)} Storage objects built for {len(opened)} input files opened"


def test_an_actor_run_rebuilt_from_the_wire_resolves_its_inputs_once(tmp_path, family, s3_server, s3_source, spy):
    built, _ = spy
    run = _prefix_run(tmp_path, family, s3_source, s3_server.endpoint)
    wire = json.loads(json.dumps(run.to_wire()))  # what travels to an actor: plain JSON
    assert wire["inputs"] == {"endpoint_url": s3_server.endpoint, "region": None}
    built.clear()
    actor_run = Run.from_wire(wire)
    files = actor_run.inputs.list_files(s3_source)
    for uri in files:
        with actor_run.inputs.open(uri) as stream:
            assert stream.read(1) == b"{"
    assert len(files) == FILES
    # the run's own storage (local here) and the input bucket's, once each
    assert built == [run.storage.root, f"s3://{s3_server.bucket}"]


def test_a_prefix_shard_over_a_local_directory_reads_its_files_without_s3(tmp_path, family, spy):
    """A source given as a local directory (nested) is listed on disk, not as an S3 prefix."""
    from memx.pipeline.runners import GenerateRunner

    built, _ = spy
    source = tmp_path / "src"
    for f in range(FILES):
        part = source / f"d{f % 2}" / f"part-{f:02d}.jsonl"
        part.parent.mkdir(parents=True, exist_ok=True)
        part.write_text("".join(json.dumps({"text": prose(12, seed=f * 10 + d)}) + "\n" for d in range(5)))
    run = _prefix_run(tmp_path, family, str(source), None)
    assert sorted(run.inputs.list_files(str(source))) == sorted(str(p) for p in source.rglob("*.jsonl"))
    built.clear()
    runner = GenerateRunner(run)
    result = runner.run(run.plan("samples")[0])
    assert result["rows"] == 16
    assert runner.documents.n_documents == FILES * 5
    assert built == [], "a local source builds no Storage"
