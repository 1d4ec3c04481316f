"""Token indexes on S3 (SeaweedFS), synced and read like a byte-level one (docs/indexes.md): a
memx-built one (index.json and its tokenizer copy travel with it) and a released-style one
without index.json, as a list of two prefixes, with `verify.tokenizer` set."""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path

import pytest

from memx.config import parse_config
from memx.index_tokens import build_token_index
from memx.pipeline.inputs import Inputs
from memx.storage import Storage
from memx.verify.search import open_index_dirs
from tests.verify.tokindex_support import longest_prefix_tokens, write_raw_index


def _upload(directory: Path, uri: str, endpoint: str) -> None:
    storage = Storage(uri, endpoint)
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            storage.write_bytes(str(path.relative_to(directory)), path.read_bytes())


def _config(tmp_path, endpoint: str, **verify) -> object:
    return parse_config({"run_id": "s3-index", "output": str(tmp_path / "out"), "target": {"model": "gpt2"},
                         "storage": {"endpoint_url": endpoint}, "verify": verify})


def test_memx_token_index_on_s3(s3_server, tmp_path, monkeypatch):
    from tests.scoring.scoring_fixtures import build_tokenizer
    from tests.support.tiny import prose

    monkeypatch.setenv("MEMX_CACHE", str(tmp_path / "cache"))
    lines = prose(300, seed=4).splitlines()
    (tmp_path / "c.jsonl").write_text("".join(json.dumps({"text": "\n".join(lines[i:i + 5])}) + "\n"
                                              for i in range(0, len(lines), 5)))
    tok_dir = build_tokenizer(tmp_path / "tok", vocab_size=400, text=lines)
    local = tmp_path / "idx"
    build_token_index([tmp_path / "c.jsonl"], local, str(tok_dir), progress=False, shard_bytes=8000)
    uri = f"s3://{s3_server.bucket}/tokidx-{uuid.uuid4().hex[:8]}"
    _upload(local, uri, s3_server.endpoint)
    config = _config(tmp_path, s3_server.endpoint, index=uri)
    opened = Inputs.of(config).index(config.verify)
    mine, tokenizer = open_index_dirs([local])
    assert opened.index.token_dtype == "u16" and len(opened.index._shards) == len(mine._shards) > 1
    assert Path(opened.index.dir).is_relative_to(tmp_path / "cache")  # a synced copy, not the local build
    rng = random.Random(1)
    queries = []
    for line in rng.sample(lines, 40):
        ids = tokenizer.encode(line, add_special_tokens=False).ids
        queries.append(ids[: rng.randint(1, len(ids))])
    assert opened.index.count_tokens(queries).tolist() == mine.count_tokens(queries).tolist()
    assert opened.tokenizer.get_vocab() == tokenizer.get_vocab()  # the tokenizer copy came along


def test_released_style_index_list_on_s3(s3_server, tmp_path, monkeypatch):
    from tokenizers import Tokenizer, models

    monkeypatch.setenv("MEMX_CACHE", str(tmp_path / "cache"))
    rng = random.Random(2)
    docs = [[rng.randrange(50) for _ in range(rng.randint(3, 40))] for _ in range(60)]
    halves = [write_raw_index(tmp_path / f"raw-{i}", [part], "u16") for i, part in enumerate((docs[:30], docs[30:]))]
    Tokenizer(models.WordLevel({f"w{i}": i for i in range(50)}, unk_token="w0")).save(str(tmp_path / "tok.json"))
    uris = []
    for half in halves:
        uris.append(f"s3://{s3_server.bucket}/raw-{uuid.uuid4().hex[:8]}")
        _upload(half, uris[-1], s3_server.endpoint)
    config = _config(tmp_path, s3_server.endpoint, index=uris, tokenizer=str(tmp_path / "tok.json"))
    opened = Inputs.of(config).index(config.verify)
    local, _ = open_index_dirs(halves, tokenizer=str(tmp_path / "tok.json"))
    queries = [doc[a:a + 6] for doc in docs for a in (0, 2)]
    assert opened.index.count_tokens(queries).tolist() == local.count_tokens(queries).tolist()
    assert longest_prefix_tokens(opened.index, [d + d for d in docs]).tolist() == [len(d) for d in docs]
    without = _config(tmp_path, s3_server.endpoint, index=uris)  # no tokenizer: index.json is required
    with pytest.raises(Exception, match="no index.json"):
        Inputs.of(without).index(without.verify)
