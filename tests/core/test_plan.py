"""Shard plans are reproducible, and resume refuses a changed plan, naming the field."""

from __future__ import annotations

import json

import pytest

from memx.config import parse_config
from memx.errors import ConfigError
from memx.plan import shard_seed
from memx.pipeline.run import new_run, start_run
from memx.storage import Storage
from tests.support.elsewhere import in_fresh_process


def make(output, **generation):
    gen = {"strategies": ["top_k", "temperature"], "samples_per_strategy": 2500, "shard_size": 1000, **generation}
    return parse_config({"run_id": "plan", "output": str(output), "target": {"model": "lab-xl"},
                         "generation": gen, "scoring": {"metrics": ["perplexity", "zlib"]}})


def test_same_config_same_specs_and_seeds(tmp_path):
    a, b = new_run(make(tmp_path)).plan("samples"), new_run(make(tmp_path)).plan("samples")
    assert a == b
    assert [(s.strategy, s.index, s.start, s.size) for s in a] == [
        ("top_k", 0, 0, 1000), ("top_k", 1, 1000, 1000), ("top_k", 2, 2000, 500),
        ("temperature", 0, 0, 1000), ("temperature", 1, 1000, 1000), ("temperature", 2, 2000, 500)]
    assert len({s.seed for s in a}) == len(a), "every shard owns its seed"
    assert a[1].name == "shard-00001" and a[1].sample_id(7) == "top_k-00001-00007"


def test_shard_seed_depends_only_on_run_seed_and_name():
    # the same in another process with another hash seed: a rerun tomorrow draws the same samples
    assert str(shard_seed(0, "top_k", 42)) == in_fresh_process(
        "from memx.plan import shard_seed; print(shard_seed(0, 'top_k', 42))")
    assert shard_seed(1, "top_k", 42) != shard_seed(0, "top_k", 42)
    assert shard_seed(0, "internet", 42) != shard_seed(0, "top_k", 42)
    # Adding shards to a run does not reseed the existing ones.
    short = new_run(make("/tmp/x", samples_per_strategy=2000)).plan("samples")
    long = new_run(make("/tmp/x", samples_per_strategy=5000)).plan("samples")
    assert {s.seed for s in short if s.strategy == "top_k"} <= {s.seed for s in long}


@pytest.mark.parametrize("change,field", [
    ({"seed": 1}, "generation.seed"),
    ({"shard_size": 500}, "generation.shard_size"),
    ({"strategies": ["top_k"]}, "generation.strategies"),
    ({"samples_per_strategy": 3000}, "generation.samples_per_strategy"),
])
def test_resume_refuses_a_changed_plan(tmp_path, change, field):
    start_run(new_run(make(tmp_path)))
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        start_run(new_run(make(tmp_path, **change)))


def test_resume_refuses_a_changed_model(tmp_path):
    config = make(tmp_path)
    start_run(new_run(config))
    other = parse_config({**config.model_dump(mode="json"), "target": {"model": "other-model"}})
    with pytest.raises(ConfigError, match=r"target\.model"):
        start_run(new_run(other))


def test_batch_size_may_change_and_is_recorded(tmp_path):
    config = make(tmp_path)
    start_run(new_run(config))
    start_run(new_run(make(tmp_path, batch_size=8)))
    assert json.loads(Storage(config.run_uri).read_bytes("config.json"))["generation"]["batch_size"] == 8
