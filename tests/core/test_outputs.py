"""The JSON outputs through their models (memx.outputs): files written by the code before
the models (tests/core/outputs/: memorization.json, discoverable.json and extraction.json
of `memx demo --preset tiny`) read back and written again byte for byte, so no key was
renamed, dropped or added; optional keys absent until set; a renamed key is an error; and
docs/schemas/ is what `python -m memx.schemas` writes."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from pydantic import ValidationError

from memx.discoverable import Discoverable, discoverable_summary
from memx.extraction.summary import Extraction
from memx.outputs import Output
from memx.schemas import SCHEMAS, schema_files
from memx.verify.summary import Memorization

OUTPUTS = Path(__file__).parent / "outputs"
DOCS = Path(__file__).parents[2] / "docs" / "schemas"


# the files the old code wrote as dicts (membership.json was born a model: no old file)
@pytest.mark.parametrize("name", sorted(n for n, model in SCHEMAS.items() if issubclass(model, Output)))
def test_a_file_of_the_old_code_round_trips_byte_for_byte(name):
    data = (OUTPUTS / name).read_bytes()
    model = SCHEMAS[name].from_json(data)
    assert model.to_json() == data


def test_the_models_read_attributes_of_a_real_file():
    raw = {name: json.loads((OUTPUTS / name).read_text()) for name in ("memorization.json", "extraction.json")}
    memorization = Memorization.from_json((OUTPUTS / "memorization.json").read_bytes())
    for strategy, block in raw["memorization.json"]["strategies"].items():
        assert memorization.strategies[strategy].memorized == block["memorized"]
    extraction = Extraction.from_json((OUTPUTS / "extraction.json").read_bytes())
    # the one key that is not a Python name is read under an alias and written under its own
    assert extraction.duplication["1"].p_at_least_half == raw["extraction.json"]["duplication"]["1"]["p_at_least_0.5"]


def test_optional_keys_are_written_only_when_set():
    samples = pa.table({"sample_id": ["p-0", "p-1"], "sequence_id": ["0:0", "0:0"]})
    scores = pa.table({"sample_id": ["p-0", "p-1"], "exact": [True, False],
                       "match_prefix_tokens": pa.array([4, 1], pa.int32()), "token_accuracy": [1.0, 0.5],
                       "score_perplexity": [2.0, 1.0]})
    once = discoverable_summary(samples, scores, ["perplexity"])
    assert set(json.loads(once.to_json())) == {"strategies", "metrics"}  # no duplication, no settings
    assert "extraction_probability" not in json.loads(once.to_json())["strategies"]["prefix"]
    twice = discoverable_summary(samples, scores, ["perplexity"], draws=2)
    twice.settings = {"draws": 2}
    written = twice.to_json()
    assert list(json.loads(written)) == ["strategies", "metrics", "settings"]
    assert json.loads(written)["strategies"]["prefix"]["extraction_probability"]["0.5"] == 1.0
    assert Discoverable.from_json(written).to_json() == written


def test_a_renamed_key_is_an_error_not_a_silent_gap():
    raw = json.loads((OUTPUTS / "memorization.json").read_text())
    strategy = next(iter(raw["strategies"].values()))
    strategy["memorised"] = strategy.pop("memorized")
    with pytest.raises(ValidationError, match="memorised|memorized"):
        Memorization.from_json(json.dumps(raw))


def test_docs_schemas_are_current():
    # regenerate with `python -m memx.schemas docs/schemas/`
    expected = schema_files()
    assert sorted(p.name for p in DOCS.glob("*.schema.json")) == sorted(expected)
    for name, text in expected.items():
        assert (DOCS / name).read_text() == text, f"docs/schemas/{name} is stale: run python -m memx.schemas docs/schemas/"
