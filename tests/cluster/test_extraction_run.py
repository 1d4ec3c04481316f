"""The `extraction` stage (docs/formulas.md#extraction) through the real CLI on Ray: an extraction-only
run (`strategies: []`) writes its shards, extraction.json and report.html and nothing of
sampling; `memx status` shows the stage, `memx inspect --summary` its headline; a lost shard
is redone identically by `memx resume`; `memx extract` runs the stage alone; bad input is
one line naming the field, exit 2, with nothing written."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
import yaml

from tests.support.tiny import prose, run_config
from tests.support.cli import memx_in_process, memx_process

pytestmark = pytest.mark.slow


def _write(tmp_path, family, run_id="ex", strategies=(), **section) -> str:
    source = tmp_path / "docs.jsonl"
    if not source.exists():
        source.write_text("".join(json.dumps({"text": prose(3, seed=s)}) + "\n" for s in range(5)) + "\n")
    raw = run_config(str(tmp_path / "out"), family, run_id=run_id, samples=8, shard_size=8)
    raw["generation"]["strategies"] = list(strategies)
    raw["cluster"] = {"actors": 2}
    raw["extraction"] = {"source": str(source), "shard_documents": 2, "prefix_tokens": [8, 16], "suffix_tokens": 8,
                         "stride_tokens": 4, "decoding": {"top_k": 40}, **section}
    path = tmp_path / f"{run_id}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def test_an_extraction_only_run(tmp_path, tiny_family):
    done = memx_process("run", _write(tmp_path, tiny_family), shared_ray=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run_dir = tmp_path / "out" / "ex"
    shards = sorted((run_dir / "extraction" / "docs").glob("shard-*.parquet"))
    assert [p.stem for p in shards] == ["shard-00000", "shard-00001", "shard-00002"]  # 6 documents (one blank), 2 a shard
    assert sorted(p.stem for p in (run_dir / "_manifest" / "extraction" / "docs").glob("*.json")) == \
        [p.stem for p in shards]
    summary = json.loads((run_dir / "extraction.json").read_text())
    assert summary["prefix_tokens"]["8"]["windows"] + summary["prefix_tokens"]["16"]["windows"] == \
        sum(pq.read_table(p).num_rows for p in shards)
    assert summary["settings"]["documents_read"] == 6 and summary["prefix_tokens"]["8"]["documents"] == 5
    assert (run_dir / "report.html").exists() and "id=\"extraction-maps\"" in (run_dir / "report.html").read_text()
    assert not (run_dir / "samples").exists() and not (run_dir / "candidates.parquet").exists()
    status = memx_in_process("status", str(run_dir))
    assert status.returncode == 0 and "extraction" in status.stdout and "every shard is committed" in status.stdout
    headline = memx_in_process("inspect", str(run_dir), "--summary")
    assert headline.returncode == 0 and "exact extraction:" in headline.stdout and "prefix 16:" in headline.stdout
    assert "nothing to resume" in memx_process("resume", str(run_dir), shared_ray=True).stdout

    lost = run_dir / "extraction" / "docs" / "shard-00001.parquet"
    before = pq.read_table(lost)
    lost.unlink()
    (run_dir / "_manifest" / "extraction" / "docs" / "shard-00001.json").unlink()
    (run_dir / "extraction.json").unlink()
    resumed = memx_process("resume", str(run_dir), shared_ray=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert pq.read_table(lost).equals(before) and json.loads((run_dir / "extraction.json").read_text()) == summary


def test_memx_extract_runs_the_stage_alone_beside_sampling(tmp_path, tiny_family):
    path = _write(tmp_path, tiny_family, run_id="mixed", strategies=["top_k"], documents=[4, 0])
    done = memx_process("extract", path, shared_ray=True)
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = tmp_path / "out" / "mixed"
    assert (run_dir / "extraction.json").exists() and not (run_dir / "samples").exists()
    rows = pq.read_table(run_dir / "extraction" / "docs" / "shard-00000.parquet")
    assert set(rows.column("document").to_pylist()) == {0, 4}
    assert rows.column("document_name").to_pylist()[0].endswith("docs.jsonl:5")  # lines count from 1


@pytest.mark.parametrize("section, field", [
    ({"prefix_tokens": [8, 250]}, "extraction.prefix_tokens:"),
    ({"decoding": {"top_k": 100000}}, "extraction.decoding.top_k:"),
    ({"documents": 50}, "extraction.documents:"),
    ({"documents": [1, 99]}, "extraction.documents:"),
    ({"suffix_tokens": 200}, "extraction.source:"),
    ({"source": "/nonexistent/docs.jsonl"}, "extraction.source:"),
    ({"stride_tokens": 0}, "extraction.stride_tokens:"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, tiny_family, section, field):
    path = _write(tmp_path, tiny_family, **section)
    for refused in (memx_in_process("extract", path), memx_in_process("run", path)):
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert refused.stderr.count("\n") == 1 and field in refused.stderr, refused.stderr
        assert not (tmp_path / "out").exists()
