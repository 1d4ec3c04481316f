"""Bad token indexes and bad verify settings (docs/indexes.md): each is one clear line naming the
field or the file (ConfigError: exit 2) before any query runs; a table that is not a
suffix array is caught on opening (sampled) and, for tables memx builds, in full.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from memx.errors import ConfigError, MemxFailure
from memx.index import check_permutation
from memx.verify.search import open_index_dirs
from memx.verify.tokenindex import open_token_index
from tests.verify.tokindex_support import write_raw_index


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    rng = np.random.default_rng(3)
    shards = [[rng.integers(0, 500, rng.integers(5, 80)).tolist() for _ in range(60)] for _ in range(2)]
    return write_raw_index(tmp_path_factory.mktemp("good") / "idx", shards, "u16")


@pytest.fixture
def copy(good, tmp_path):
    out = tmp_path / "idx"
    shutil.copytree(good, out)
    return out


def _word_tokenizer(path, size: int) -> str:
    from tokenizers import Tokenizer, models

    Tokenizer(models.WordLevel({f"w{i}": i for i in range(size)}, unk_token="w0")).save(str(path))
    return str(path)


def _refused(call, *says: str) -> str:
    with pytest.raises(ConfigError) as refused:
        call()
    message = str(refused.value)
    assert "\n" not in message and all(s in message for s in says), message
    return message


def test_a_directory_without_shard_files(tmp_path):
    (tmp_path / "empty").mkdir()
    _refused(lambda: open_token_index([tmp_path / "empty"], "u16"), "verify.index", "no shard files")
    _refused(lambda: open_token_index([tmp_path / "missing"], "u16"), "not a directory")


def test_a_shard_missing_its_table(copy):
    (copy / "table.1").unlink()
    _refused(lambda: open_token_index([copy], "u16"), "shard 1 lacks table.1")


def test_sizes_that_do_not_fit_the_dtype(copy, good):
    _refused(lambda: open_token_index([good], "u32"), "verify.index", "u32")  # a u16 index read as u32
    with (copy / "tokenized.0").open("ab") as f:
        f.write(b"\x00")  # an odd size: no whole u16 tokens
    _refused(lambda: open_token_index([copy], "u16"), "tokenized.0", "multiple of the token width 2")


def test_offsets_must_be_u64_and_point_at_separators(copy):
    offsets = np.fromfile(copy / "offset.0", dtype="<u8")
    (copy / "offset.0").write_bytes(offsets[:-1].tobytes() + b"\x00\x00\x00")
    _refused(lambda: open_token_index([copy], "u16"), "offset.0", "multiple of 8")
    shifted = offsets.copy()
    shifted[1:] += 2
    (copy / "offset.0").write_bytes(shifted.tobytes())
    _refused(lambda: open_token_index([copy], "u16"), "tokenized.0", "separator")


def test_a_table_out_of_order_names_its_shard(copy):
    raw = (copy / "table.1").read_bytes()
    width = len(raw) // ((copy / "tokenized.1").stat().st_size // 2)
    pointers = [raw[i:i + width] for i in range(0, len(raw), width)]
    third = len(pointers) // 3
    pointers[third:2 * third] = pointers[third:2 * third][::-1]  # still a permutation, no longer sorted
    (copy / "table.1").write_bytes(b"".join(pointers))
    _refused(lambda: open_token_index([copy], "u16"), "table.1", "not a suffix array", "rebuild")


def test_duplicate_pointers_fail_the_build_check(copy):
    table = bytearray((copy / "table.0").read_bytes())
    width = len(table) // ((copy / "tokenized.0").stat().st_size // 2)
    table[width:2 * width] = table[0:width]  # what infini-gram's --cpus 2 wrote: a repeated pointer
    (copy / "table.0").write_bytes(bytes(table))
    with pytest.raises(MemxFailure) as failed:
        check_permutation(copy, 0, 2)
    assert "table.0" in str(failed.value) and "positions missing" in str(failed.value)
    check_permutation(copy, 1, 2)  # the untouched shard passes


def test_the_tokenizer_is_required_without_index_json(good, tmp_path):
    _refused(lambda: open_index_dirs([good]), "verify.tokenizer", "required")
    small = _word_tokenizer(tmp_path / "small.json", 600)
    index, tokenizer = open_index_dirs([good], tokenizer=small)
    assert index.token_dtype == "u16" and tokenizer.get_vocab_size() == 600  # u16 inferred from the vocabulary


def test_a_vocabulary_over_u16_for_a_u16_index(good, tmp_path):
    big = _word_tokenizer(tmp_path / "big.json", 70_000)
    _refused(lambda: open_index_dirs([good], tokenizer=big, token_dtype="u16"), "verify.tokenizer", "70,000")
    # inferred u32 for that vocabulary: the u16 files do not fit it
    _refused(lambda: open_index_dirs([good], tokenizer=big), "verify.index")


def test_config_contradicting_index_json(copy, tmp_path):
    small = _word_tokenizer(tmp_path / "small.json", 600)
    (copy / "index.json").write_text(json.dumps({"format": "memx-infini-gram-token", "token_dtype": "u16",
                                                 "tokenizer": small}))
    _refused(lambda: open_index_dirs([copy], tokenizer=small, token_dtype="u32"), "verify.token_dtype", "u32",
             "contradicts")
    index, _ = open_index_dirs([copy])  # the tokenizer index.json names is loaded
    assert index.token_dtype == "u16"
    (copy / "tokenizer").mkdir()
    shutil.copy(small, copy / "tokenizer" / "tokenizer.json")
    other = _word_tokenizer(tmp_path / "other.json", 601)
    _refused(lambda: open_index_dirs([copy], tokenizer=other), "verify.tokenizer", "not the tokenizer")


def test_index_build_with_a_bad_tokenizer_exits_2_writing_nothing(tmp_path):
    import os
    import subprocess
    import sys

    (tmp_path / "c.txt").write_text("some text")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    proc = subprocess.run([sys.executable, "-m", "jobs.cli", "index", "build", str(tmp_path / "c.txt"), "--out",
                           str(tmp_path / "idx"), "--tokenizer", str(tmp_path / "no-such-tokenizer")],
                          capture_output=True, text=True, timeout=120, env=env)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "--tokenizer" in lines[0], proc.stderr
    assert not (tmp_path / "idx").exists()
