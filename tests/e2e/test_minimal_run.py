"""`memx run` of a config that names one model and nothing else (the tiny lab's xl), through
the real CLI on Ray (the worker's shared head): it completes, samples top_k and temperature, scores without a
reference, writes candidates, and config.json records the lists it resolved, so `resume`
of the same run is a no-op."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
import yaml

from tests.support.cli import memx_process

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab_xl(tiny_lab):
    return str(tiny_lab / "models" / "xl")


def test_a_one_model_config_runs_to_candidates(tmp_path, lab_xl):
    # only sizes beside the minimal three keys, so the test takes seconds, not the paper's hours
    config = {"run_id": "one-model", "output": str(tmp_path / "out"), "target": {"model": lab_xl},
              "generation": {"samples_per_strategy": 16, "shard_size": 8, "max_new_tokens": 16}}
    path = tmp_path / "one.yaml"
    path.write_text(yaml.safe_dump(config))
    done = memx_process("run", str(path), shared_ray=True)
    assert done.returncode == 0, done.stderr[-3000:]
    run = tmp_path / "out" / "one-model"
    saved = json.loads((run / "config.json").read_text())
    assert saved["generation"]["strategies"] == ["top_k", "temperature"]
    assert "ratio" not in saved["scoring"]["metrics"] and "perplexity" in saved["scoring"]["metrics"]
    candidates = pq.read_table(run / "candidates.parquet")
    assert candidates.num_rows > 0
    assert set(candidates.column("strategy").to_pylist()) == {"top_k", "temperature"}
    assert (run / "report.html").is_file()
    again = memx_process("resume", str(run), shared_ray=True)
    assert again.returncode == 0, again.stderr[-3000:]
