"""Bad `extraction` input (issue 20's list): one line naming the field, before anything runs."""

from __future__ import annotations

import pytest

from memx.errors import ConfigError
from memx.pipeline.checks import extraction_problem
from memx.pipeline.inputs import Inputs
from tests.extraction.helpers import extraction_config, write_jsonl

LONG = "the river and the window of the market " * 6


@pytest.mark.parametrize("section, field", [
    ({"suffix_tokens": 0}, "extraction.suffix_tokens"),
    ({"prefix_tokens": [50, 0]}, "extraction.prefix_tokens.1"),
    ({"prefix_tokens": []}, "extraction.prefix_tokens"),
    ({"stride_tokens": 0}, "extraction.stride_tokens"),
    ({"decoding": {"greedy": True, "top_k": 40}}, "extraction.decoding"),
    ({"decoding": {"greedy": True, "temperature": 2.0}}, "extraction.decoding"),
    ({"queries": []}, "extraction.queries"),
    ({"queries": [10, 0]}, "extraction.queries.1"),
    ({"documents": 0}, "extraction.documents"),
    ({"documents": [1, 1]}, "extraction.documents"),
    ({"shard_documents": 0}, "extraction.shard_documents"),
    ({"name": "Bad/Name"}, "extraction.name"),
    ({"unknown": 1}, "extraction.unknown"),
])
def test_config_errors_name_the_field(tmp_path, section, field):
    with pytest.raises(ConfigError) as error:
        extraction_config("m", str(tmp_path), source="s", **section)
    message = str(error.value)
    assert field in message and "\n" not in message


def _problem(family, tmp_path, **section):
    config = extraction_config(family["xl"], str(tmp_path / "out"), **section)
    inputs = Inputs.of(config)
    return extraction_problem(config, inputs)


def test_a_good_section_has_no_problem(family, tmp_path):
    source = write_jsonl(tmp_path / "d.jsonl", [LONG, "short"])
    assert _problem(family, tmp_path, source=source, prefix_tokens=[8], suffix_tokens=8, stride_tokens=4) is None


@pytest.mark.parametrize("section, expected", [
    ({"prefix_tokens": [8, 200], "suffix_tokens": 60}, "extraction.prefix_tokens: the longest prefix + "
                                                       "suffix_tokens (200 + 60) exceeds the target model's 256"),
    ({"decoding": {"top_k": 5000}}, "extraction.decoding.top_k: 5000 is beyond the target's vocabulary of"),
    ({"documents": 5}, "extraction.documents: 5 documents asked for, but"),
    ({"documents": [0, 9]}, "extraction.documents: document 9 is beyond the source, which holds 3 documents"),
    ({"suffix_tokens": 240}, "extraction.source: no document is long enough for one window (248 tokens"),
])
def test_input_problems_name_the_field(family, tmp_path, section, expected):
    source = write_jsonl(tmp_path / "d.jsonl", [LONG, "short", None])
    base = {"source": source, "prefix_tokens": [8], "suffix_tokens": 8, "stride_tokens": 4}
    problem = _problem(family, tmp_path, **{**base, **section})
    assert problem is not None and problem.startswith(expected.split(":")[0] + ":") and "\n" not in problem
    assert expected in problem, problem


def test_too_short_sources_say_how_many(family, tmp_path):
    source = write_jsonl(tmp_path / "d.jsonl", ["a b", "c d e", "short text"])
    problem = _problem(family, tmp_path, source=source, prefix_tokens=[8], suffix_tokens=8, stride_tokens=4)
    assert problem.startswith("extraction.source: no document is long enough") and "all 3" in problem


@pytest.mark.parametrize("make, expected", [
    (lambda p: str(p / "missing.jsonl"), "extraction.source: cannot read"),
    (lambda p: (p / "bad.jsonl").write_text("not json " * 20 + "\n") and str(p / "bad.jsonl"), "extraction.source: cannot read"),
    (lambda p: (p / "empty").mkdir() or str(p / "empty"), "extraction.source: cannot read"),
])
def test_unreadable_sources(family, tmp_path, make, expected):
    problem = _problem(family, tmp_path, source=make(tmp_path), prefix_tokens=[8], suffix_tokens=8)
    assert problem is not None and problem.startswith(expected) and "\n" not in problem
