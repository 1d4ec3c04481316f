"""The whole-run steps are declared once: each needs only stages and earlier steps, a run has
the ones its config asks for, and a new output is one declaration that run_steps, status and
resume then know (what issue-sized features such as membership.json plug into)."""

from __future__ import annotations

import pytest

from memx.config import parse_config
from memx.pipeline import steps as steps_module
from memx.pipeline.run import new_run
from memx.pipeline.stages import STAGES
from memx.pipeline.steps import STEPS, Step, run_steps, step_status, steps_of


def _config(tmp_path, **extra):
    return parse_config({"run_id": "s", "output": str(tmp_path), "target": {"model": "m"}, **extra})


def test_each_step_needs_only_declared_stages_and_earlier_steps():
    stages = {stage.name for stage in STAGES}
    for position, step in enumerate(STEPS):
        assert set(step.needs_stages) <= stages, step.name
        assert set(step.needs_steps) <= {s.name for s in STEPS[:position]}, step.name
    assert STEPS[-1].name == "report" and set(STEPS[-1].needs_steps) == {s.name for s in STEPS[:-1]}


def test_a_run_has_the_steps_its_config_asks_for(tmp_path):
    plain = _config(tmp_path, generation={"strategies": ["top_k"]})
    assert [s.name for s in steps_of(plain)] == ["candidates", "report"]
    every = _config(tmp_path, generation={"strategies": ["top_k", "prefix"], "prefix": {"source": "d.jsonl"}},
                    verify={"index": "idx", "scope": "all"})
    assert [s.name for s in steps_of(every)] == ["candidates", "verify", "memorization", "discoverable", "report"]


def test_a_new_output_is_one_declaration(tmp_path, monkeypatch):
    def make(run, options):
        run.storage.write_bytes("membership.json", b"{}")
        return ["membership: 0 documents"]

    added = Step("membership", "membership.json", lambda config: True, make, needs_stages=("scores",))
    monkeypatch.setattr(steps_module, "STEPS", STEPS[:-1] + (added, STEPS[-1]))
    run = new_run(_config(tmp_path, generation={"strategies": ["top_k"]}))
    assert step_status(run) == {"candidates": False, "membership": False, "report": False}
    lines: list[str] = []
    run_steps(run, lines.append, names=("membership",))
    assert lines == ["membership: 0 documents"]
    assert step_status(run)["membership"] is True


def test_an_unknown_step_is_named():
    with pytest.raises(ValueError, match="no_such_step"):
        steps_module.step_named("no_such_step")
