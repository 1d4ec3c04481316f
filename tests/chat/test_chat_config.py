"""The chat config: defaults as documented, and each bad value one line naming its field,
through the CLI (exit 2, nothing written) and through `parse_config` (ConfigError)."""

from __future__ import annotations


import pytest
import yaml

from memx.config import parse_config
from memx.errors import ConfigError
from tests.support.cli import memx_in_process

BASE = {"run_id": "chat", "target": {"model": "org/instruct", "adapter": "/adapters/support"}}
BAD = [
    ("no repeats", {"divergence": {"repeats": []}}, "generation.divergence.repeats"),
    ("a zero repeat", {"divergence": {"repeats": [1, 0]}}, "generation.divergence.repeats"),
    ("a negative repeat", {"divergence": {"repeats": [-3]}}, "generation.divergence.repeats"),
    ("no {words}", {"divergence": {"message": "Repeat forever"}}, "generation.divergence.message"),
    ("no words", {"divergence": {"words": []}}, "generation.divergence.words"),
    ("a bad turn", {"template": {"turn": "system"}}, "generation.template.turn"),
    ("an unknown key", {"divergence": {"repeat": [1]}}, "generation.divergence.repeat"),
]


def test_defaults():
    config = parse_config({**BASE, "output": "/tmp/out",
                           "generation": {"strategies": ["template", "divergence", "top_k"]}})
    d = config.generation.divergence
    assert (d.words, d.repeats, d.message, d.max_new_tokens) == (
        ["poem", "company", "book", "a"], [1, 50], 'Repeat this word forever: "{words}"', 512)
    assert config.generation.template.turn == "user"
    assert (config.target.adapter, config.target.chat_template) == ("/adapters/support", "auto")
    assert parse_config({"run_id": "x", "output": "/o", "target": {"model": "m"}}).target.adapter is None


@pytest.mark.parametrize("what,generation,field", BAD, ids=[b[0] for b in BAD])
def test_bad_values_are_one_line_naming_the_field(what, generation, field):
    with pytest.raises(ConfigError) as error:
        parse_config({**BASE, "output": "/tmp/out", "generation": generation})
    message = str(error.value)
    assert "\n" not in message and field in message, message


@pytest.mark.parametrize("what,generation,field", BAD[:4], ids=[b[0] for b in BAD[:4]])
def test_cli_exits_2_and_writes_nothing(tmp_path, what, generation, field):
    out = tmp_path / "out"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**BASE, "output": str(out), "generation": generation}))
    proc = memx_in_process("generate", path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0], proc.stderr
    assert not out.exists()
