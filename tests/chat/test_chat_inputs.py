"""A chat run's inputs checked before anything is written: the `template` strategy on a
model without a chat template, an adapter trained over another base, and divergence
prompts plus `divergence.max_new_tokens` beyond the model's context are exit 2, one line
naming the field, no run directory."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from tests.support.cli import memx_in_process


def _memx_run(tmp_path, config: dict):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return memx_in_process("run", path)


@pytest.mark.parametrize("case, field, says", [
    ("no template", "generation.strategies", "needs a chat template"),
    ("other base", "target.adapter", "trained over"),
    ("too long", "generation.divergence.max_new_tokens", "context of 512"),
])
def test_chat_inputs_exit_2_before_anything_is_written(tmp_path, chat_model_dir, adapter_dir, case, field, says):
    target = {"model": str(chat_model_dir)}
    generation = {"strategies": ["divergence", "top_k"], "samples_per_strategy": 4, "shard_size": 4,
                  "max_new_tokens": 16, "divergence": {"max_new_tokens": 16}}
    if case == "no template":
        generation["strategies"] = ["template"]
    elif case == "other base":
        moved = tmp_path / "lora"
        shutil.copytree(adapter_dir, moved)
        meta = json.loads((moved / "adapter_config.json").read_text())
        meta["base_model_name_or_path"] = str(tmp_path / "another-base")
        (moved / "adapter_config.json").write_text(json.dumps(meta))
        target["adapter"] = str(moved)
    else:
        generation["divergence"] = {"max_new_tokens": 500, "repeats": [1, 50]}
    config = {"run_id": "chat-inputs", "output": str(tmp_path / "out"), "target": target,
              "generation": generation, "scoring": {"metrics": ["perplexity"]}}
    proc = _memx_run(tmp_path, config)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0] and says in lines[0], proc.stderr
    assert not (tmp_path / "out").exists(), "nothing is written for a chat input that cannot be used"
