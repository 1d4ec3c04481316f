"""The config contract (docs/config.md) through the real `memx` CLI: good files round-trip, bad
files exit 2 with one line naming the field, and nothing is written for a bad config."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from memx.config import Config, load_config, parse_config
from tests.support.cli import memx_in_process

GOOD = {
    "run_id": "gpt2-xl-600k",
    "output": "OUT",
    "storage": {"endpoint_url": "http://127.0.0.1:8333"},
    "target": {"model": "gpt2-xl", "dtype": "auto"},
    "references": [{"name": "small", "model": "gpt2"}, {"name": "medium", "model": "gpt2-medium"}],
    "generation": {"strategies": ["top_k", "temperature", "internet"], "samples_per_strategy": 200000,
                   "shard_size": 1000, "batch_size": 64, "max_new_tokens": 256, "top_k": 40,
                   "temperature": {"start": 10.0, "end": 1.0, "decay_tokens": 20},
                   "internet": {"prompts": "s3://my-bucket/cc/en.txt", "min_tokens": 5, "max_tokens": 10},
                   "seed": 0},
    "scoring": {"metrics": ["perplexity", "ratio", "zlib", "lowercase", "window", "min_k", "min_k_plus_plus"],
                "window": 50, "batch_size": 32},
    "selection": {"pool": 1000, "per_config": 100},
    "verify": {"index": "s3://my-bucket/index/webtext", "min_match_tokens": 50},
    "cluster": {"actors": "auto", "gpus_per_actor": 1},
}


def _with(path: str, value):
    data = yaml.safe_load(yaml.safe_dump(GOOD))
    node = data
    *parents, leaf = path.split(".")
    for part in parents:
        node = node[part]
    if value is _DELETE:
        del node[leaf]
    else:
        node[leaf] = value
    return data


_DELETE = object()

# (what is wrong, the config, the field the message must name)
BAD = [
    ("run_id escapes the output dir", _with("run_id", "../x"), "run_id"),
    ("run_id upper case", _with("run_id", "Run"), "run_id"),
    ("unknown top-level key", _with("verbose", True), "verbose"),
    ("unknown nested key", _with("generation.topk", 40), "generation.topk"),
    ("zero samples", _with("generation.samples_per_strategy", 0), "generation.samples_per_strategy"),
    ("negative shard size", _with("generation.shard_size", -5), "generation.shard_size"),
    ("min_tokens > max_tokens", _with("generation.internet.min_tokens", 20), "generation.internet"),
    ("no strategy", _with("generation.strategies", []), "generation.strategies"),
    ("unknown strategy", _with("generation.strategies", ["beam"]), "generation.strategies"),
    ("no metric", _with("scoring.metrics", []), "scoring.metrics"),
    ("unknown metric", _with("scoring.metrics", ["bleu"]), "scoring.metrics"),
    ("ratio without references", _with("references", []), "ratio"),
    ("missing target", _with("target", _DELETE), "target"),
    ("bad dtype", _with("target.dtype", "int4"), "target.dtype"),
    ("per_config > pool", _with("selection.per_config", 5000), "selection"),
    ("internet without prompts", _with("generation.internet.prompts", None), "generation.internet.prompts"),
    ("credentials in endpoint url", _with("storage.endpoint_url", "http://AKIA:secret@host:8333"), "storage.endpoint_url"),
    ("duplicate reference names", _with("references", [{"name": "a", "model": "x"}, {"name": "a", "model": "y"}]), "references"),
    ("zero actors", _with("cluster.actors", 0), "cluster.actors"),
    ("string count", _with("generation.batch_size", "many"), "generation.batch_size"),
]


def test_valid_file_round_trips(tmp_path):
    path = tmp_path / "memx.yaml"
    data = _with("output", str(tmp_path / "out"))
    path.write_text(yaml.safe_dump(data))
    config = load_config(path)
    assert config.model_dump(mode="json") == Config.model_validate(config.model_dump(mode="json")).model_dump(mode="json")
    assert config.metric_names() == ["perplexity", "ratio_small", "ratio_medium", "zlib", "lowercase", "window",
                                     "min_k", "min_k_plus_plus"]
    assert config.run_uri == f"{tmp_path / 'out'}/gpt2-xl-600k"


def test_defaults_are_the_papers():
    config = parse_config({"run_id": "a", "output": "/tmp/x", "target": {"model": "gpt2-xl"},
                           "references": [{"name": "small", "model": "gpt2"}],
                           "generation": {"internet": {"prompts": "cc.txt"}}})
    gen = config.generation
    assert (gen.samples_per_strategy, gen.max_new_tokens, gen.top_k) == (200_000, 256, 40)
    assert (gen.temperature.start, gen.temperature.end, gen.temperature.decay_tokens) == (10.0, 1.0, 20)
    assert (gen.internet.min_tokens, gen.internet.max_tokens) == (5, 10)
    assert (config.selection.pool, config.selection.per_config, config.scoring.window) == (1000, 100, 50)


@pytest.mark.parametrize("what,data,field", BAD, ids=[b[0] for b in BAD])
def test_bad_config_exits_2_naming_the_field(tmp_path, what, data, field):
    out = tmp_path / "out"
    data = dict(data, output=str(out))
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    proc = memx_in_process("generate", path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert field in lines[0], lines[0]
    assert not out.exists(), "a bad config must write nothing"


def test_the_installed_script_says_the_same(tmp_path):
    """The other exit-2 checks call `jobs.cli.main` in this process (tests/support/cli.py);
    the `memx` script a user runs, in a process of its own, gives the same one line and code."""
    out = tmp_path / "out"
    what, data, field = BAD[0]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(dict(data, output=str(out))))
    script = shutil.which("memx") or pytest.fail("the memx script is not installed (pip install -e .)")
    proc = subprocess.run([script, "generate", str(path)], capture_output=True, text=True, timeout=120)
    here = memx_in_process("generate", path)
    assert (proc.returncode, proc.stderr, proc.stdout) == (here.returncode, here.stderr, here.stdout) == (
        2, here.stderr, "")
    assert len(proc.stderr.strip().splitlines()) == 1 and field in proc.stderr and not out.exists(), proc.stderr


@pytest.mark.parametrize("text", ["run_id: [unclosed", "- just\n- a list\n", ""])
def test_malformed_yaml_exits_2(tmp_path, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    proc = memx_in_process("run", path)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.mark.parametrize("verb,field,where", [
    ("generate", "target.model", "target"),
    ("run", "references.small.model", "reference"),
    ("score", "target.model", "not-a-model-dir"),
])
def test_local_model_that_is_not_there_exits_2_before_writing(tmp_path, verb, field, where):
    out = tmp_path / "out"
    data = dict(GOOD, output=str(out))
    if where == "target":
        data["target"] = {"model": str(tmp_path / "no-such-model")}
    elif where == "reference":
        data["references"] = [{"name": "small", "model": "./no-such-ref"}, GOOD["references"][1]]
    else:
        (tmp_path / "empty-dir").mkdir()
        data["target"] = {"model": str(tmp_path / "empty-dir")}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    proc = memx_in_process(verb, path, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith(f"memx: error: {field}: ")
    assert ("no config.json" if where == "not-a-model-dir" else "no such directory") in proc.stderr
    assert not out.exists(), "nothing is written for a model that is not there"


def test_hub_ids_are_not_mistaken_for_paths(tmp_path):
    from memx.models import local_model_problem

    assert local_model_problem("gpt2-xl") is None and local_model_problem("EleutherAI/pythia-1b") is None
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    assert local_model_problem(str(tmp_path / "model")) is None
