"""A real chat run on the tiny lab (`memx run` on its memx-chat config, a few samples per
strategy): the target is the xl with its LoRA adapter and the base xl the reference;
every verified span starts at or after its sample's `span_from`; memorization.json has
memorized tokens per million for every strategy and the divergence figures, whose
per-prompt counts add up; the report and `memx inspect --summary` show the chat section."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
import yaml

from memx.lab import build_lab
from memx.lab.chatconfig import lab_chat_config

from tests.support.cli import memx_in_process, memx_process

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chat_run(tmp_path_factory):
    lab = build_lab(preset="tiny", seed=0, progress=False)  # the cache's, built when missing
    raw = lab_chat_config(lab, samples=16)
    out = tmp_path_factory.mktemp("chat-run")
    raw.update(output=str(out), run_id="chat", cluster={"actors": 1})
    raw["generation"]["shard_size"] = 8
    path = out / "memx-chat.yaml"
    path.write_text(yaml.safe_dump(raw))
    done = memx_process("run", str(path), shared_ray=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return out / "chat"


def test_spans_start_at_span_from(chat_run):
    checked = 0
    for strategy in ("template", "divergence", "top_k"):
        for shard in sorted((chat_run / "verified" / strategy).glob("*.parquet")):
            verified = pq.read_table(shard).to_pylist()
            samples = pq.read_table(chat_run / "samples" / strategy / shard.name, columns=["sample_id", "span_from"])
            starts = dict(zip(samples.column("sample_id").to_pylist(), samples.column("span_from").to_pylist()))
            for row in verified:
                if row["match_tokens"]:
                    assert row["match_start"] >= starts[row["sample_id"]], row
                    checked += 1
    assert checked, "no verified span at all: the check proved nothing"


def test_memorization_json_and_summary(chat_run):
    memorization = json.loads((chat_run / "memorization.json").read_text())
    strategies = memorization["strategies"]
    assert set(strategies) == {"template", "divergence", "top_k"}
    for s in strategies.values():
        assert s["memorized_tokens_per_million"] is not None and s["memorized_tokens_per_million"] >= 0
    div = strategies["divergence"]
    assert sum(p["samples"] for p in div["by_prompt"].values()) == div["samples"] == 16
    assert sum(p["diverged"] for p in div["by_prompt"].values()) == div["diverged"]
    assert sum(p["memorized"] for p in div["by_prompt"].values()) == div["memorized"]
    assert div["diverged"] + div["no_repetition"] <= div["samples"]
    assert div["diverged_rate"] == pytest.approx(div["diverged"] / div["samples"])
    assert "ratio_base" in memorization["metrics"]
    report = (chat_run / "report.html").read_text()
    assert 'id="chat-strategies"' in report and 'id="divergence-prompts"' in report
    shown = memx_in_process("inspect", str(chat_run), "--summary")
    assert shown.returncode == 0, shown.stderr
    words = " ".join(shown.stdout.split())  # rich wraps titles to the terminal's width
    assert "Chat strategies beside the paper's" in words and "never repeated the word" in words
    for strategy, s in strategies.items():  # the per-strategy rows carry memorization.json's figures
        assert f"{strategy} {s['samples']} {s['memorized']}" in words
