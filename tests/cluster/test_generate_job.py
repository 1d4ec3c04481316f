"""The generation job on a real local Ray, writing to a local path and to S3 through the
same code: planned rows and schema, reproducible shards, and a restart that redoes only
what is missing or corrupt."""

from __future__ import annotations

import uuid

import pyarrow as pa
import pytest

from cluster.schedule import run_shard_stages
from memx.config import parse_config
from memx.generation import SAMPLE_SCHEMA
from memx.shards import data_key, manifest_key, read_shard
from memx.pipeline.status import stage_status
from memx.pipeline.run import new_run
from tests.support.tiny import run_config


@pytest.fixture(params=["local", "s3"])
def config(request, tmp_path, tiny_family, local_ray):
    if request.param == "local":
        return parse_config(run_config(str(tmp_path / "out"), tiny_family))
    server = request.getfixturevalue("s3_server")
    return parse_config(run_config(f"s3://{server.bucket}/gen-{uuid.uuid4().hex[:8]}", tiny_family,
                                   endpoint_url=server.endpoint))


def _all_samples(storage, config) -> dict[str, pa.Table]:
    return {spec.key: read_shard(storage, spec) for spec in new_run(config).plan("samples")}


def test_generate_then_restart_redoes_only_missing_and_corrupt(config):
    storage = new_run(config).storage
    results = run_shard_stages(new_run(config), stages=("samples",), show_progress=False)
    specs = new_run(config).plan("samples")
    assert len(results["samples"].done) == len(specs) == 9
    first = _all_samples(storage, config)
    for strategy in ("top_k", "temperature", "internet"):
        rows = pa.concat_tables([t for k, t in first.items() if f"/{strategy}/" in k])
        assert rows.num_rows == 24
        assert rows.schema.equals(SAMPLE_SCHEMA, check_metadata=False)
        assert len(set(rows.column("sample_id").to_pylist())) == 24
        assert all(len(ids) == 24 for ids in rows.column("token_ids").to_pylist())
    internet = pa.concat_tables([t for k, t in first.items() if "/internet/" in k])
    assert all(5 <= len(p) <= 10 for p in internet.column("prompt_ids").to_pylist())

    # Interrupt: two shards lost their manifest (never committed), one object was altered.
    lost, altered = specs[1], specs[7]
    for spec in (specs[1], specs[4]):
        storage.delete(manifest_key(spec))
    storage.write_bytes(data_key(altered), storage.read_bytes(data_key(altered))[:-7])
    status = stage_status(new_run(config), "samples")
    assert {s.key for s in status.missing} == {specs[1].key, specs[4].key}
    assert [s.key for s in status.corrupt] == [altered.key]

    again = run_shard_stages(new_run(config), stages=("samples",), show_progress=False)
    assert sorted(again["samples"].done) == sorted([specs[1].key, specs[4].key, altered.key])
    assert stage_status(new_run(config), "samples").todo == []
    second = _all_samples(storage, config)
    for key in first:
        assert second[key].equals(first[key]), f"{key} differs after being redone"
    assert lost.key in again["samples"].done

    # A complete stage starts no actor at all.
    assert run_shard_stages(new_run(config), stages=("samples",), show_progress=False) == {}
