"""Every declared stage's runner goes through the one ShardRunner.run: a committed shard is
skipped without its rows being asked for, and a new shard's manifest is created only after
its data object is written. Written once, for every stage in the table. Loading the real
models is the slow suites' business (tests/cluster, tests/e2e): here each real runner class
is built without its models, and its rows are a small table of the stage's own sample ids."""

from __future__ import annotations

import importlib

import pyarrow as pa
import pytest

from memx.config import parse_config
from memx.pipeline.run import new_run
from memx.pipeline.runner import ShardRunner
from memx.pipeline.stages import STAGES
from memx.shards import data_key, manifest_key, read_manifest, read_shard


def _runner_class(path: str) -> type:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _run(tmp_path):
    return new_run(parse_config({"run_id": "r", "output": str(tmp_path), "target": {"model": "m"},
                                 "generation": {"samples_per_strategy": 4, "shard_size": 2}}))


class _Recorder:
    """Stands in for the stage's model: counts the calls for rows, and what the storage saw when."""

    def __init__(self, storage):
        self.asked, self.events = 0, []
        create, output = storage.create_if_absent, storage.open_output

        def create_if_absent(key, data):
            self.events.append(("manifest" if key.startswith("_manifest/") else key, storage.exists(key)))
            return create(key, data)

        def open_output(key):
            self.events.append(("data", key))
            return output(key)

        storage.create_if_absent, storage.open_output = create_if_absent, open_output


@pytest.mark.parametrize("stage", STAGES, ids=[s.name for s in STAGES])
def test_each_stage_skips_a_committed_shard_and_commits_its_manifest_last(stage, tmp_path):
    cls = _runner_class(stage.runner)
    assert issubclass(cls, ShardRunner) and cls.run is ShardRunner.run, f"{stage.name}: one run() for every stage"
    run = _run(tmp_path)
    runner = cls.__new__(cls)  # the real class, without loading its models
    ShardRunner.__init__(runner, run, "cpu")
    seen = _Recorder(run.storage)

    def rows(spec):
        seen.asked += 1
        return pa.table({"sample_id": [spec.sample_id(i) for i in range(spec.size)]})

    runner.rows = rows
    runner.details = lambda spec, seconds: {"stand_in": True}
    runner.result = lambda spec: {}
    spec = run.plan("samples")[0].in_stage(stage.name)

    first = runner.run(spec)
    assert first["committed"] and seen.asked == 1
    assert seen.events[0] == ("data", data_key(spec)) and seen.events[-1] == ("manifest", False)
    manifest = read_manifest(run.storage, spec)
    assert manifest["rows"] == spec.size and manifest["stand_in"] is True
    assert read_shard(run.storage, spec).column("sample_id").to_pylist() == [spec.sample_id(0), spec.sample_id(1)]

    again = runner.run(spec)  # a task delivered twice
    assert again == {"shard": spec.key, "rows": spec.size, "skipped": True}
    assert seen.asked == 1, "a committed shard's rows are never asked for"
    assert run.storage.exists(manifest_key(spec))
