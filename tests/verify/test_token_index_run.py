"""A whole lab run verified against a token index (docs/indexes.md), then the same run against the
lab's byte index: the verified stage, candidates, memorization.json and the `prefix`
rows' sequence_count all go through the token index, and agree with the byte index.

`memx run` on the tiny lab's own config with `verify.index` pointed at a u16 token index
of the lab corpus (built by `memx index build --tokenizer`, 2 shards listed as two
directories); then a copy of the run, its verified shards removed, verified again by
`memx verify` against the byte index. Real Ray, real lab models, real infini-gram.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml


from tests.support.cli import memx_process

pytestmark = pytest.mark.slow


def _table(root, stage: str) -> dict[str, np.ndarray]:
    """Every shard of a stage as columns, rows sorted by sample_id."""
    table = pa.concat_tables([pq.read_table(f) for f in sorted((root / stage).rglob("shard-*.parquet"))])
    table = table.sort_by("sample_id")
    return {name: np.asarray(table.column(name).to_pylist()) for name in table.column_names
            if not pa.types.is_list(table.schema.field(name).type)}  # personal_data: a list a row


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_lab):
    lab = tiny_lab
    root = tmp_path_factory.mktemp("token-run")
    # two directories: the corpus split in two, each half its own token index
    docs = (lab / "corpus" / "train.jsonl").read_text().splitlines(keepends=True)
    halves = []
    for i, part in enumerate((docs[: len(docs) // 2], docs[len(docs) // 2:])):
        (root / f"half-{i}.jsonl").write_text("".join(part))
        built = memx_process("index", "build", str(root / f"half-{i}.jsonl"), "--out", str(root / f"index-{i}"),
                      "--tokenizer", str(lab / "tokenizer"))
        assert built.returncode == 0, built.stderr
        assert "u16 tokens" in built.stdout
        halves.append(str(root / f"index-{i}"))
    config = yaml.safe_load((lab / "memx.yaml").read_text())
    config["output"] = str(root / "runs")
    config["verify"] = {**config["verify"], "index": halves}
    config.pop("extraction", None)  # its windows' counts are tested in tests/extraction; here it only costs time
    (root / "token.yaml").write_text(yaml.safe_dump(config))
    ran = memx_process("run", str(root / "token.yaml"), shared_ray=True)
    assert ran.returncode == 0, ran.stderr[-3000:]
    token_run = root / "runs" / config["run_id"]
    byte_out = root / "byte-runs"
    shutil.copytree(token_run, byte_out / config["run_id"])
    for stage in ("verified", "_manifest/verified"):
        shutil.rmtree(byte_out / config["run_id"] / stage)
    config["output"], config["verify"]["index"] = str(byte_out), str(lab / "index")
    (root / "byte.yaml").write_text(yaml.safe_dump(config))
    verified = memx_process("verify", str(root / "byte.yaml"), shared_ray=True)
    assert verified.returncode == 0, verified.stderr[-3000:]
    return {"lab": lab, "token": token_run, "byte": byte_out / config["run_id"], "config": config, "halves": halves}


def test_every_sample_verified_through_the_token_index_agrees_with_the_byte_index(runs):
    token, byte = _table(runs["token"], "verified"), _table(runs["byte"], "verified")
    assert (token["sample_id"] == byte["sample_id"]).all() and len(token["sample_id"]) == 400
    assert (token["match_tokens"] <= byte["match_tokens"]).all()  # one tokenizer: a token match is a byte match
    m = runs["config"]["verify"]["min_match_tokens"]
    eligible = np.abs(byte["match_tokens"] - m) >= 2
    agree = ((token["match_tokens"] >= m) == (byte["match_tokens"] >= m))[eligible].mean()
    print(f"\nlab run, token vs byte index: memorized flags agree on {agree:.2%} of {int(eligible.sum())} samples "
          f"({int((byte['match_tokens'] >= m).sum())} memorized by the byte index, "
          f"{int((token['match_tokens'] >= m).sum())} by the token index)")
    assert agree >= 0.99
    token_json = json.loads((runs["token"] / "memorization.json").read_text())
    byte_json = json.loads((runs["byte"] / "memorization.json").read_text())
    for strategy, stats in byte_json["strategies"].items():
        assert token_json["strategies"][strategy]["samples"] == stats["samples"]
        assert token_json["strategies"][strategy]["memorized"] <= stats["memorized"]


def test_candidates_and_prefix_sequence_counts_use_the_token_index(runs):
    from memx.scoring.discoverable import SequenceCounter
    from memx.verify.search import open_index_dirs
    from memx.verify.tokenbytes import load_tokenizer

    token_c = pq.read_table(runs["token"] / "candidates.parquet")
    byte_c = pq.read_table(runs["byte"] / "candidates.parquet")
    assert token_c.column("sample_id").equals(byte_c.column("sample_id"))
    token_n = np.asarray(token_c.column("match_tokens").to_pylist())
    assert (token_n <= np.asarray(byte_c.column("match_tokens").to_pylist())).all()
    assert any(token_c.column("memorized").to_pylist())
    verified = _table(runs["token"], "verified")  # a candidate's match_tokens is its sample's verified one
    by_sample = dict(zip(verified["sample_id"], verified["match_tokens"]))
    assert token_n.tolist() == [by_sample[s] for s in token_c.column("sample_id").to_pylist()]
    samples = pa.concat_tables([pq.read_table(f) for f in sorted((runs["token"] / "samples" / "prefix").glob("*.parquet"))])
    scores = pa.concat_tables([pq.read_table(f) for f in sorted((runs["token"] / "scores" / "prefix").glob("*.parquet"))])
    tokenizer = load_tokenizer(str(runs["lab"] / "tokenizer"))
    index, index_tokenizer = open_index_dirs(runs["halves"])
    want = SequenceCounter(tokenizer, index, index_tokenizer)(samples.column("prompt_ids"), samples.column("target_ids"))
    assert scores.column("sequence_count").to_pylist() == want.tolist() and (want >= 1).all()
    byte_index, _ = open_index_dirs([str(runs["lab"] / "index")])
    in_bytes = SequenceCounter(tokenizer, byte_index)(samples.column("prompt_ids"), samples.column("target_ids"))
    assert (want <= in_bytes).all() and np.mean(want == in_bytes) >= 0.9
