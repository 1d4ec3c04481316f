"""Every input path a run reads is checked before anything is written: a missing or empty
internet prompt file, a verification index that is missing or of another format, or a
threshold no continuation can reach is exit 2 at once, one line naming the field, and no
run directory appears (it used to take 8 minutes of actor restarts to fail)."""

from __future__ import annotations

import json

import pytest
import yaml

from memx.index import build_index
from tests.support.cli import memx_in_process


def _config(tmp_path, **changes) -> dict:
    (tmp_path / "prompts.txt").write_text("Some prompt text for the internet strategy.\n" * 20)
    config = {
        "run_id": "inputs", "output": str(tmp_path / "out"),
        "target": {"model": "gpt2"},  # a hub id: not checked as a path, never loaded here
        "generation": {"strategies": ["top_k", "internet"], "samples_per_strategy": 8, "shard_size": 8,
                       "max_new_tokens": 32, "internet": {"prompts": str(tmp_path / "prompts.txt")}},
        "scoring": {"metrics": ["perplexity"]},
    }
    for dotted, value in changes.items():
        node = config
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return config


def _memx_run(tmp_path, config: dict):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return memx_in_process("run", path)


@pytest.fixture
def foreign_index(tmp_path):
    index = tmp_path / "index"
    (tmp_path / "corpus.txt").write_text("the training corpus\n" * 50)
    build_index([tmp_path / "corpus.txt"], index, progress=False)
    meta = json.loads((index / "index.json").read_text())
    (index / "index.json").write_text(json.dumps({**meta, "format": "infini-gram-u16", "token_dtype": "u16"}))
    return index


def _raw_token_index(tmp_path):
    """An infini-gram u16 index as released: shards, no index.json."""
    from tests.verify.tokindex_support import write_raw_index

    return write_raw_index(tmp_path / "raw-index", [[[1, 2, 3, 4], [5, 6, 7]]], "u16")


def _big_tokenizer(tmp_path) -> str:
    from tokenizers import Tokenizer, models

    Tokenizer(models.WordLevel({f"w{i}": i for i in range(70_000)}, unk_token="w0")).save(str(tmp_path / "big.json"))
    return str(tmp_path / "big.json")


def _empty_dir(tmp_path):
    (tmp_path / "empty-index").mkdir()
    return tmp_path / "empty-index"


@pytest.mark.parametrize("case,field,says", [
    ("missing prompts", "generation.internet.prompts", "no such file"),
    ("empty prompts", "generation.internet.prompts", "is empty"),
    ("missing index", "verify.index", "not a directory"),
    ("foreign index", "verify.index", "another format"),
    ("scope", "verify.scope", "'candidates' or 'all'"),
    ("threshold", "verify.min_match_tokens", "generation.max_new_tokens (32)"),
    ("token index, no tokenizer", "verify.tokenizer", "required"),
    ("token index, vocabulary over u16", "verify.tokenizer", "more than a u16 index holds"),
    ("token index, no shards", "verify.index", "no shard files"),
])
def test_unreadable_inputs_exit_2_before_anything_is_written(tmp_path, foreign_index, case, field, says):
    changes = {
        "missing prompts": {"generation.internet.prompts": str(tmp_path / "nope.txt")},
        "empty prompts": {"generation.internet.prompts": str(tmp_path / "empty.txt")},
        "missing index": {"verify": {"index": str(tmp_path / "no-index"), "min_match_tokens": 8}},
        "foreign index": {"verify": {"index": str(foreign_index), "min_match_tokens": 8, "scope": "all"}},
        "scope": {"verify": {"index": str(foreign_index), "scope": "every"}},
        "threshold": {"verify": {"index": str(foreign_index), "min_match_tokens": 50, "scope": "all"}},
        "token index, no tokenizer": {"verify": {"index": str(_raw_token_index(tmp_path)), "min_match_tokens": 8}},
        "token index, vocabulary over u16": {"verify": {"index": str(_raw_token_index(tmp_path)), "min_match_tokens": 8,
                                                        "tokenizer": _big_tokenizer(tmp_path), "token_dtype": "u16"}},
        "token index, no shards": {"verify": {"index": str(_empty_dir(tmp_path)), "min_match_tokens": 8,
                                              "tokenizer": _big_tokenizer(tmp_path)}},
    }[case]
    (tmp_path / "empty.txt").write_text("")
    proc = _memx_run(tmp_path, _config(tmp_path, **changes))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{field}" in lines[0] and says in lines[0], proc.stderr
    assert not (tmp_path / "out").exists(), "nothing is written for an input that cannot be read"
