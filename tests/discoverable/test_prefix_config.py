"""generation.prefix in the config: defaults, combination with the paper's strategies, and
the exit-2 one-line errors that name the field."""

from __future__ import annotations

import pytest

from memx.config import load_config, parse_config
from memx.errors import ConfigError


def _config(**generation) -> dict:
    return {"run_id": "p", "output": "/tmp/out", "target": {"model": "gpt2"}, "references": [{"name": "small", "model": "gpt2"}],
            "generation": generation}


def _error(data: dict) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, source="run.yaml")
    assert caught.value.exit_code == 2 and "\n" not in str(caught.value)
    return caught.value


def test_defaults_and_combination_with_other_strategies():
    config = parse_config(_config(strategies=["top_k", "prefix", "internet"], internet={"prompts": "cc.txt"},
                                  prefix={"source": "s3://bucket/pile-sample.jsonl"}))
    prefix = config.generation.prefix
    assert (prefix.prefix_tokens, prefix.suffix_tokens, prefix.decoding, prefix.draws) == (50, 50, "greedy", 1)
    assert prefix.sequence_tokens == 100
    assert parse_config(_config(internet={"prompts": "cc.txt"})).generation.strategies == ["top_k", "temperature", "internet"]  # still the paper's


def test_n_p_extraction_config():
    config = parse_config(_config(strategies=["prefix"], samples_per_strategy=100, shard_size=20,
                                  prefix={"source": "docs/", "decoding": "top_k", "draws": 10}))
    assert config.generation.prefix.draws == 10


def test_prefix_without_source_names_the_field():
    error = _error(_config(strategies=["prefix"]))
    assert "generation.prefix.source" in str(error) and str(error).startswith("run.yaml: ")


def test_draws_with_greedy_names_the_field():
    error = _error(_config(strategies=["prefix"], prefix={"source": "d.jsonl", "draws": 5}))
    assert "generation.prefix.draws" in str(error) and "top_k" in str(error)


def test_draws_must_divide_the_shards():
    error = _error(_config(strategies=["prefix"], shard_size=1000, samples_per_strategy=10_000,
                           prefix={"source": "d.jsonl", "decoding": "top_k", "draws": 3}))
    assert "generation.prefix.draws" in str(error) and "multiples of draws (3)" in str(error)


@pytest.mark.parametrize("bad, field", [
    ({"decoding": "beam"}, "generation.prefix.decoding"),
    ({"prefix_tokens": 0}, "generation.prefix.prefix_tokens"),
    ({"suffix": 50}, "generation.prefix.suffix"),
])
def test_bad_prefix_fields(bad, field):
    assert field in str(_error(_config(strategies=["prefix"], prefix={"source": "d.jsonl", **bad})))


def test_from_yaml(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("run_id: p\noutput: out\ntarget: {model: gpt2}\nscoring: {metrics: [zlib]}\n"
                    "generation:\n  strategies: [prefix]\n  prefix: {draws: 2}\n")
    with pytest.raises(ConfigError, match=r"generation\.prefix\.draws"):
        load_config(path)
