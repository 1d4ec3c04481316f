"""A one-model config needs nothing else (issue 19): left unset, `generation.strategies` are
the paper's strategies whose inputs are present and `scoring.metrics` every metric, `ratio`
only with references; a list the user wrote is kept, and what it cannot have is exit 2."""

from __future__ import annotations

import pytest

from memx.config import parse_config
from memx.metrics import METRIC_NAMES
from memx.errors import ConfigError

MINIMAL = {"run_id": "one", "output": "/tmp/out", "target": {"model": "some/model"}}
NO_RATIO = [m for m in METRIC_NAMES if m != "ratio"]


def test_the_minimal_config_resolves_to_what_one_model_can_run():
    config = parse_config(MINIMAL)
    assert config.generation.strategies == ["top_k", "temperature"]
    assert config.scoring.metrics == NO_RATIO
    recorded = config.model_dump(mode="json")  # what config.json saves: the resolved lists
    assert recorded["generation"]["strategies"] == ["top_k", "temperature"]
    assert recorded["scoring"]["metrics"] == NO_RATIO


def test_inputs_present_add_their_strategies_and_ratio():
    config = parse_config({**MINIMAL, "references": [{"name": "small", "model": "gpt2"}],
                           "generation": {"internet": {"prompts": "cc.txt"}, "prefix": {"source": "train.jsonl"}}})
    assert config.generation.strategies == ["top_k", "temperature", "internet", "prefix"]
    assert config.scoring.metrics == list(METRIC_NAMES)
    assert config.metric_names()[:2] == ["perplexity", "ratio_small"]
    with_prompts = parse_config({**MINIMAL, "generation": {"internet": {"prompts": "cc.txt"}}})
    assert with_prompts.generation.strategies == ["top_k", "temperature", "internet"]


@pytest.mark.parametrize("change,says", [
    ({"generation": {"strategies": ["internet"]}}, "generation.internet.prompts: the internet strategy needs"),
    ({"generation": {"strategies": ["top_k", "prefix"]}}, "generation.prefix.source: the prefix strategy needs"),
    ({"scoring": {"metrics": ["ratio"]}}, "scoring.metrics: 'ratio' needs at least one entry in references"),
    ({"generation": {"strategies": []}},
     "generation.strategies: [] runs no sampling; it needs an extraction or a membership section"),
])
def test_what_the_user_asked_for_and_cannot_have_is_an_error(change, says):
    with pytest.raises(ConfigError) as raised:
        parse_config({**MINIMAL, **change})
    assert says in str(raised.value)


def test_a_saved_config_with_explicit_lists_reads_back_unchanged():
    """config.json of a run saved before the defaults changed holds explicit lists: resume
    compares those, so the saved plan is what it was."""
    saved = parse_config({**MINIMAL, "references": [{"name": "small", "model": "gpt2"}],
                          "generation": {"strategies": ["top_k", "temperature", "internet"],
                                         "internet": {"prompts": "cc.txt"}},
                          "scoring": {"metrics": list(METRIC_NAMES)}}).model_dump(mode="json")
    again = parse_config(saved).model_dump(mode="json")
    assert again == saved
