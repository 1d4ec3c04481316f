"""`memx status` of the extraction stage counts documents, its unit, done and planned alike:
the real ExtractionRunner commits shards of windows (many rows a document), and the
status table, its JSON and the rate and time left are in documents, the windows kept apart
as rows. Once, a tiny run showed "936 samples" for 8 planned documents."""

from __future__ import annotations

import pyarrow.parquet as pq
from rich.console import Console

from memx.config import parse_config
from memx.pipeline.run import new_run
from memx.pipeline.runners import ExtractionRunner
from memx.pipeline.stages import EXTRACTION
from memx.pipeline.status import stage_status
from memx.pipeline.status_view import COLUMNS, print_status, status_record
from memx.shards import data_key
from tests.extraction.helpers import write_jsonl
from tests.support.tiny import prose


def _extraction_run(family, tmp_path):
    source = write_jsonl(tmp_path / "docs.jsonl", [prose(3, seed=s) for s in range(5)])
    return new_run(parse_config({
        "run_id": "st", "output": str(tmp_path / "out"), "target": {"model": family["xl"], "dtype": "float32"},
        "generation": {"strategies": []},
        "extraction": {"source": source, "shard_documents": 2, "prefix_tokens": [8], "suffix_tokens": 8,
                       "stride_tokens": 4}}))


def test_extraction_status_counts_documents_not_windows(family, tmp_path, capsys):
    run = _extraction_run(family, tmp_path)
    specs = run.plan(EXTRACTION)
    assert [s.size for s in specs] == [2, 2, 1]  # 5 documents, 2 a shard
    runner = ExtractionRunner(run, device="cpu", num_threads=1)
    runner.run(specs[0])
    runner.run(specs[2])
    windows = sum(pq.read_table(tmp_path / "out" / "st" / data_key(s)).num_rows for s in (specs[0], specs[2]))
    assert windows > 3 * 2, "the test needs documents of many windows"

    status = stage_status(run, EXTRACTION)
    assert (status.unit, status.units_planned, status.units_done, status.rows) == ("documents", 5, 3, windows)
    record = status_record(run)["stages"][EXTRACTION]
    assert (record["unit"], record["units_planned"], record["units_done"], record["rows"]) == \
        ("documents", 5, 3, windows)
    # the time left is the 2 documents to go at the documents' own rate
    if status.units_per_second > 0:
        assert status.seconds_left == 2 / status.units_per_second

    print_status(run, Console(force_terminal=False, width=200))
    shown = capsys.readouterr().out
    header = next(line for line in shown.splitlines() if line.startswith("stage"))
    assert header.split() == [word for column in COLUMNS for word in column.split()]
    row = next(line for line in shown.splitlines() if line.startswith("extraction"))
    assert "3 documents" in row and f"{windows}" not in row.split()

    runner.run(specs[1])
    done = stage_status(run, EXTRACTION)
    assert (done.units_done, done.seconds_left, done.todo) == (5, 0.0, [])
