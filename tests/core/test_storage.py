"""The storage layer on a local path and on a real S3 server (SeaweedFS), through the same code."""

from __future__ import annotations

import json
import uuid

import pyarrow as pa
import pytest

from memx.config import parse_config
from memx.errors import StorageUnavailable
from memx.plan import ShardSpec
from memx.shards import (checksum_ok, commit_shard, committed_manifests, data_key, manifest_key, read_shard,
                         write_shard)
from memx.storage import Storage

SCHEMA = pa.schema([("sample_id", pa.string()), ("value", pa.int64())])
SPEC = ShardSpec("samples", "top_k", 3, 300, 100, 1234)


def batches(n=100, step=25):
    for start in range(0, n, step):
        ids = [SPEC.sample_id(i) for i in range(start, min(n, start + step))]
        yield pa.record_batch([pa.array(ids), pa.array(range(start, start + len(ids)))], schema=SCHEMA)


def test_bytes_round_trip_and_listing(storage_root):
    storage = Storage(*storage_root)
    storage.write_bytes("a/b/one.json", b"1")
    storage.write_bytes("a/two.json", b"22")
    assert storage.read_bytes("a/b/one.json") == b"1"
    assert storage.list("a", suffix=".json") == ["a/b/one.json", "a/two.json"]
    assert storage.list("nothing-here") == []
    assert storage.size("a/two.json") == 2 and storage.size("a/missing") is None


def test_second_manifest_create_loses_and_first_stays(storage_root):
    storage = Storage(*storage_root)
    assert storage.create_if_absent("_manifest/x.json", b"first") is True
    assert storage.create_if_absent("_manifest/x.json", b"second") is False
    assert storage.read_bytes("_manifest/x.json") == b"first"


def test_streamed_shard_commits_and_reads_back(storage_root):
    storage = Storage(*storage_root)
    written = write_shard(storage, SPEC, SCHEMA, batches())
    assert written.rows == 100
    assert storage.size(data_key(SPEC)) == written.nbytes
    # Before its manifest exists the shard is invisible to readers.
    assert committed_manifests(storage, "samples") == {}
    assert commit_shard(storage, SPEC, written, model="m") is True
    manifest = committed_manifests(storage, "samples")[("top_k", 3)]
    assert manifest["rows"] == 100 and manifest["seed"] == 1234 and manifest["model"] == "m"
    assert checksum_ok(storage, SPEC, manifest)
    table = read_shard(storage, SPEC, columns=["sample_id"])
    assert table.column_names == ["sample_id"] and table.num_rows == 100
    assert table["sample_id"][0].as_py() == "top_k-00003-00000"
    # A second attempt at the same shard cannot commit twice.
    assert commit_shard(storage, SPEC, written) is False


def test_stray_data_without_manifest_is_invisible(storage_root):
    storage = Storage(*storage_root)
    write_shard(storage, SPEC, SCHEMA, batches())
    storage.write_bytes("samples/top_k/shard-00099.parquet", b"garbage")
    assert committed_manifests(storage, "samples") == {}


def test_altered_object_fails_its_checksum(storage_root):
    storage = Storage(*storage_root)
    written = write_shard(storage, SPEC, SCHEMA, batches())
    commit_shard(storage, SPEC, written)
    manifest = json.loads(storage.read_bytes(manifest_key(SPEC)))
    original = storage.read_bytes(data_key(SPEC))
    storage.write_bytes(data_key(SPEC), original[:-10])  # truncated
    assert not checksum_ok(storage, SPEC, manifest)
    storage.write_bytes(data_key(SPEC), original[:-1] + bytes([original[-1] ^ 1]))  # same size, one bit
    assert not checksum_ok(storage, SPEC, manifest)


def test_failed_write_leaves_no_object(storage_root):
    storage = Storage(*storage_root)

    def exploding():
        yield from batches(50)
        raise RuntimeError("actor died mid-shard")

    with pytest.raises(RuntimeError):
        write_shard(storage, SPEC, SCHEMA, exploding())
    assert storage.list("samples") == []


def test_unreachable_endpoint_fails_with_its_name(monkeypatch):
    monkeypatch.setenv("MEMX_STORAGE_ATTEMPTS", "2")  # botocore's and pyarrow's tries per request
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    storage = Storage("s3://bucket/run", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(StorageUnavailable, match=r"http://127\.0\.0\.1:9.*memx resume"):
        storage.create_if_absent("_manifest/x.json", b"1")
    with pytest.raises(StorageUnavailable, match=r"http://127\.0\.0\.1:9.*\(2 attempts\).*memx resume"):
        storage.exists("_manifest/x.json")  # the pyarrow path


def test_credentials_never_reach_config_json(s3_server, tmp_path):
    from memx.pipeline.run import new_run, start_run

    config = parse_config({"run_id": "creds", "output": f"s3://{s3_server.bucket}/c",
                           "storage": {"endpoint_url": s3_server.endpoint}, "target": {"model": "gpt2"},
                           "generation": {"strategies": ["top_k"]}, "scoring": {"metrics": ["perplexity"]}})
    run = new_run(config)
    start_run(run)
    storage = run.storage
    saved = storage.read_bytes("config.json").decode()
    assert s3_server.env["AWS_SECRET_ACCESS_KEY"] not in saved
    assert s3_server.env["AWS_ACCESS_KEY_ID"] not in saved
    assert json.loads(saved)["storage"]["endpoint_url"] == s3_server.endpoint


def test_a_storage_signs_with_the_keys_in_the_environment_when_it_is_made(s3_server, monkeypatch):
    """A long-lived driver (a notebook) whose keys changed signs with the new ones: boto3's
    default session would keep the first keys it resolved for the life of the process."""
    uri = f"s3://{s3_server.bucket}/keys-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "not-a-key")
    with pytest.raises(Exception, match="InvalidAccessKeyId"):
        Storage(uri, endpoint_url=s3_server.endpoint).write_bytes("a.txt", b"1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.env["AWS_ACCESS_KEY_ID"])
    Storage(uri, endpoint_url=s3_server.endpoint).write_bytes("a.txt", b"1")
    assert Storage(uri, endpoint_url=s3_server.endpoint).read_bytes("a.txt") == b"1"


def test_a_parquet_file_in_memory_is_read_from_arrows_own_copy():
    """`table_from_bytes` leaves no hold on the Python bytes once it returns: a hold that an
    Arrow thread drops later needs the GIL, and at interpreter exit that aborted `memx status`
    (exit 134, "terminate called without an active exception") about one run in twenty."""
    import io
    import sys

    import pyarrow.parquet as pq

    from memx.shards import table_from_bytes

    table = pa.table({"sample_id": [f"s{i}" for i in range(20_000)], "value": list(range(20_000)),
                      "text": ["some words " * (i % 7) for i in range(20_000)]})
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=2_000)  # several row groups: read on Arrow's pool
    data = sink.getvalue()
    before = sys.getrefcount(data)
    for _ in range(30):
        assert table_from_bytes(data).equals(table)
        assert sys.getrefcount(data) == before
