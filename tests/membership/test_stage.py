"""The `membership` stage and step as a user runs them, on the tiny lab's models and pair
(slow: builds or reuses the tiny lab in the cache; one real `memx membership` on a local
Ray, the rest through the runner in this process).

- membership.json's AUC and TPR at FPR are scikit-learn's `roc_auc_score` / `roc_curve`
  over the committed shards' scores, and the fair pair's blind AUC stays under 0.6;
- members against text of another kind (docstrings of C modules) get "distribution shift";
- bad inputs are exit 2 with one line, and nothing is written.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import yaml
from sklearn.metrics import roc_auc_score, roc_curve

from memx.lab import build_lab
from memx.membership.summary import read_summary
from tests.membership.conftest import docstrings
from tests.support.cli import memx_in_process, memx_process

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
METRICS = ["perplexity", "ratio", "zlib", "min_k", "min_k_plus_plus"]


@pytest.fixture(scope="module")
def lab():
    return build_lab(None, preset="tiny", seed=0, progress=False)


def _config(lab: Path, out: Path, **membership) -> dict:
    meta = json.loads((lab / "lab.json").read_text())
    section = {"members": str(lab / meta["membership"]["members"]),
               "nonmembers": str(lab / meta["membership"]["nonmembers"]),
               "max_tokens": meta["settings"]["train"]["context"], "shard_documents": 200, "bootstrap": 300}
    return {"run_id": "m", "output": str(out), "target": {"model": str(lab / "models" / "xl")},
            "references": [{"name": "out", "model": str(lab / "models" / "out")}],
            "generation": {"strategies": []}, "scoring": {"metrics": METRICS, "batch_size": 64},
            "membership": {**section, **membership}, "cluster": {"actors": 1}}


def _write(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_real_run_gives_sklearns_figures_and_a_fair_blind_baseline(lab, tmp_path):
    done = memx_process("membership", str(_write(tmp_path / "c.yaml", _config(lab, tmp_path / "out"))), cwd=ROOT,
                        shared_ray=True)
    assert done.returncode == 0, done.stderr[-2000:]
    run = tmp_path / "out" / "m"
    summary = read_summary((run / "membership.json").read_bytes())
    print("\n" + done.stdout)
    assert "verdict" in done.stdout and all(len(line) <= 80 for line in done.stdout.splitlines()[-8:])
    sides = {side: pa.concat_tables([pa.parquet.read_table(p) for p in sorted((run / "membership" / side).glob("*.parquet"))])
             for side in ("members", "nonmembers")}
    assert sides["members"].column("member").to_pylist() == [True] * sides["members"].num_rows
    for name, figures in summary.metrics.items():
        m = sides["members"].column(f"score_{name}").to_numpy()
        n = sides["nonmembers"].column(f"score_{name}").to_numpy()
        labels, scores = np.r_[np.ones(len(m)), np.zeros(len(n))], np.r_[m, n]
        assert figures.auc == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
        fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
        for alpha in (0.01, 0.001):
            assert figures.tpr_at_fpr[f"{alpha:g}"] == pytest.approx(tpr[fpr <= alpha].max(), abs=1e-12)
        assert figures.auc_ci95[0] <= figures.auc <= figures.auc_ci95[1]
    assert summary.members == sides["members"].num_rows and summary.nonmembers == sides["nonmembers"].num_rows
    assert summary.blind.auc < 0.6, summary.sentence()
    assert summary.verdict == "ok"
    # `memx inspect --summary` prints the same verdict first, then the table
    shown = memx_in_process("inspect", str(run), "--summary")
    assert shown.returncode == 0 and shown.stdout.splitlines()[0] == summary.sentence()


def test_a_shifted_pair_is_called_a_distribution_shift(lab, tmp_path):
    from memx.config import parse_config
    from memx.pipeline.membership import MembershipRunner, membership_step
    from memx.pipeline.run import new_run

    shifted = tmp_path / "shifted.jsonl"
    shifted.write_text("".join(json.dumps({"text": t}) + "\n" for t in docstrings()))
    config = parse_config(_config(lab, tmp_path / "out", nonmembers=str(shifted), documents=60))
    run = new_run(config)
    runner = MembershipRunner(run, "cpu", 1)
    for spec in run.plan("membership"):
        runner.run(spec)
    summary = membership_step(run)
    print("\nshifted pair:", summary.sentence())
    assert summary.verdict == "distribution shift" and summary.blind.auc >= 0.6


@pytest.mark.parametrize("change,says", [
    ({"members": "/nonexistent/members.jsonl"}, "membership.members: /nonexistent/members.jsonl"),
    ({"nonmembers": "ONE"}, "membership.nonmembers: "),  # a side of one document
    ({"nonmembers": "SAME"}, "members and nonmembers are the same source"),
    ({"max_tokens": 1}, "membership.max_tokens"),
    ({"max_tokens": 100_000}, "membership.max_tokens: 100000 is more than target.model's context"),
])
def test_bad_inputs_are_exit_2_one_line_and_nothing_written(lab, tmp_path, change, says):
    config = _config(lab, tmp_path / "out")
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps({"text": "a single document"}) + "\n")
    value = {"ONE": str(one), "SAME": config["membership"]["members"]}
    change = {k: value.get(v, v) if isinstance(v, str) else v for k, v in change.items()}
    config["membership"].update(change)
    done = memx_in_process("membership", _write(tmp_path / "c.yaml", config), cwd=ROOT)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0], done.stderr
    assert not (tmp_path / "out").exists(), "nothing written"
