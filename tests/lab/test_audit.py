"""The lab audit: greedy prefix completion per canary and model size, saved and rendered."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from rich.console import Console
from rich.table import Table

from memx.errors import ConfigError
from memx.lab import audit_lab, load_canaries
from memx.lab.canaries import REPETITIONS


@pytest.fixture(scope="module")
def audit(tiny_lab):
    return audit_lab(tiny_lab)


def test_audit_writes_its_table(audit, tiny_lab):
    saved = json.loads((tiny_lab / "audit.json").read_text())
    assert saved == json.loads(json.dumps(audit.to_dict()))
    assert saved["models"] == ["small", "medium", "xl", "out"]
    assert [int(r) for r in saved["table"]] == list(REPETITIONS)
    for row in saved["table"].values():
        assert set(row) == {"small", "medium", "xl", "out"} and all(0.0 <= v <= 1.0 for v in row.values())
    rows = pq.read_table(tiny_lab / "audit.parquet")
    assert rows.num_rows == 4 * load_canaries(tiny_lab).num_rows
    assert {"canary_id", "model", "repetitions", "extracted", "continuation"} <= set(rows.column_names)


def test_audit_table_renders(audit):
    table = audit.render()
    assert isinstance(table, Table)
    console = Console(record=True, width=120)
    console.print(table)
    text = console.export_text()
    assert "repetitions" in text and "xl" in text and "64" in text


def test_xl_memorizes_a_frequent_canary(audit):
    # The end-to-end attack test relies on this: the tiny xl reproduces at least one
    # canary that was repeated 16+ times, exactly, from its prefix.
    frequent = [r for r in audit.rows if r["model"] == "xl" and r["repetitions"] >= 16]
    assert any(r["extracted"] for r in frequent), [r["continuation"] for r in frequent]


def test_out_never_completes_a_secret(audit):
    # `out` never saw a canary: a completed secret would mean the disjoint split leaked.
    assert not [r["canary_id"] for r in audit.rows if r["model"] == "out" and r["extracted"]]


def test_extraction_is_exact_containment(audit, tiny_lab):
    secrets = {c["canary_id"]: c["secret"] for c in load_canaries(tiny_lab).to_pylist()}
    for row in audit.rows:
        assert row["extracted"] == (secrets[row["canary_id"]] in row["continuation"])


def test_audit_of_a_non_lab_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="not a memx lab"):
        audit_lab(tmp_path)
