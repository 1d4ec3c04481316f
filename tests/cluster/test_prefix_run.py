"""The `prefix` strategy (docs/formulas.md#prefix) through the real CLI on Ray, beside `top_k` in
one run: rows are verbatim slices of the source with the continuation beside them, prefix
scores carry exact/token_accuracy/sequence_count, discoverable.json and the report's
section are written, a lost prefix shard is redone identically by `memx resume`, and a
source with no long enough document is refused before anything is written."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
import yaml

from memx.index import build_index
from tests.support.tiny import prose, run_config
from tests.support.cli import memx_in_process, memx_process

pytestmark = pytest.mark.slow


def _write_config(tmp_path, family, source, run_id="prefix", **prefix) -> str:
    raw = run_config(str(tmp_path / "out"), family, run_id=run_id, samples=16, shard_size=8)
    raw["generation"]["strategies"] = ["top_k", "prefix"]
    raw["generation"]["prefix"] = {"source": str(source), "prefix_tokens": 12, "suffix_tokens": 8, **prefix}
    raw["verify"] = {"index": str(tmp_path / "index"), "min_match_tokens": 6, "scope": "all"}
    path = tmp_path / f"{run_id}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


@pytest.fixture
def corpus(tmp_path):
    docs = [prose(12, seed=seed) for seed in range(20)]
    source = tmp_path / "train.jsonl"
    source.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs))
    build_index([source], tmp_path / "index", progress=False)
    return source, docs


def test_prefix_beside_top_k_then_resume_redoes_a_lost_prefix_shard(tmp_path, tiny_family, corpus):
    from transformers import AutoTokenizer

    source, docs = corpus
    done = memx_process("run", _write_config(tmp_path, tiny_family, source), shared_ray=True)
    assert done.returncode == 0, done.stderr[-3000:]
    run = tmp_path / "out" / "prefix"
    samples = pq.read_table(run / "samples" / "prefix" / "shard-00000.parquet").to_pylist()
    tokenizer = AutoTokenizer.from_pretrained(tiny_family["xl"])
    for row in samples:
        document, offset = (int(part) for part in row["sequence_id"].split(":"))
        ids = tokenizer(docs[document], add_special_tokens=False)["input_ids"]
        assert row["prompt_ids"] == ids[offset:offset + 12] and row["target_ids"] == ids[offset + 12:offset + 20]
        assert len(row["token_ids"]) == 8
    top_k = pq.read_table(run / "samples" / "top_k" / "shard-00000.parquet")
    assert top_k.column("target_ids").null_count == top_k.num_rows
    scores = pq.read_table(run / "scores" / "prefix" / "shard-00000.parquet")
    for column in ("exact", "match_prefix_tokens", "token_accuracy", "sequence_count", "score_zlib"):
        assert column in scores.column_names, column
    assert min(scores.column("sequence_count").to_pylist()) >= 1  # every sequence is cut from the indexed corpus
    discoverable = json.loads((run / "discoverable.json").read_text())
    block = discoverable["strategies"]["prefix"]
    assert block["rows"] == 16 and block["exact"] == sum(scores.column("exact").to_pylist()) + sum(
        pq.read_table(run / "scores" / "prefix" / "shard-00001.parquet").column("exact").to_pylist())
    assert "duplication" in discoverable and "zlib" in discoverable["metrics"]
    report = (run / "report.html").read_text()
    assert "id=\"discoverable\"" in report and "id=\"duplication\"" in report

    before = (run / "samples" / "prefix" / "shard-00001.parquet").read_bytes()
    for relative in ("_manifest/samples/prefix/shard-00001.json", "_manifest/scores/prefix/shard-00001.json",
                     "_manifest/verified/prefix/shard-00001.json", "samples/prefix/shard-00001.parquet"):
        (run / relative).unlink()
    resumed = memx_process("resume", str(run), shared_ray=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    again = pq.read_table(run / "samples" / "prefix" / "shard-00001.parquet")
    assert again.equals(pq.read_table(__import__("io").BytesIO(before)))


def test_a_source_with_no_long_enough_document_exits_2_before_writing(tmp_path, tiny_family):
    source = tmp_path / "short.jsonl"
    source.write_text("".join(json.dumps({"text": f"tiny {i}"}) + "\n" for i in range(5)))
    (tmp_path / "index").mkdir()
    build_index([source], tmp_path / "index", progress=False)
    refused = memx_in_process("run", _write_config(tmp_path, tiny_family, source, run_id="short"))
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.startswith("memx: error: generation.prefix.source:") and "5" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
