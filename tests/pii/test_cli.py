"""`memx pii FILE` in a subprocess, as a user runs it: one line per entity over text,
jsonl and parquet files, masked unless --no-redact, JSON lines with --json, --types
filtering; each bad input is exit 2 with one stderr line naming the file (and line) and
nothing on stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = "write to jane.doe@example.com or call +1 650-253-0000; card 4111 1111 1111 1111"


def _pii(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jobs.cli", "pii", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("pii")
    (d / "a.txt").write_text("intro\n" + DOC)
    (d / "b.jsonl").write_text(json.dumps({"text": "nothing here"}) + "\n\n" + json.dumps({"text": DOC, "id": 7}) + "\n")
    pq.write_table(pa.table({"id": [1, 2], "text": ["no data", DOC]}), d / "c.parquet")
    (d / "bad.parquet").write_bytes(b"PAR1 this is not parquet")
    pq.write_table(pa.table({"body": [DOC]}), d / "notext.parquet")
    (d / "notext.jsonl").write_text(json.dumps({"text": "ok"}) + "\n" + json.dumps({"text": DOC}) + "\n"
                                    + json.dumps({"body": DOC}) + "\n")
    return d


def test_lines_per_entity_masked(files):
    done = _pii(str(files / "a.txt"))
    assert done.returncode == 0, done.stderr
    rows = [line.split("\t") for line in done.stdout.splitlines()]
    name = str(files / "a.txt")
    assert [(r[0], r[1]) for r in rows] == [(name, "email"), (name, "phone"), (name, "credit_card")]
    text = "intro\n" + DOC
    assert rows[0][2:] == [str(text.index("jane")), str(text.index("jane") + 20), "j***@e***.com"]
    assert rows[2][4] == "**** 1111" and "jane.doe" not in done.stdout and "253-0000" not in done.stdout


def test_jsonl_and_parquet_json_unmasked(files):
    done = _pii(str(files / "b.jsonl"), "--json", "--no-redact", "--types", "email,phone")
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["document"], r["type"], r["value"]) for r in rows] == [
        (f"{files / 'b.jsonl'}:3", "email", "jane.doe@example.com"), (f"{files / 'b.jsonl'}:3", "phone", "+1 650-253-0000")]
    assert DOC[rows[1]["start"]:rows[1]["end"]] == "+1 650-253-0000"
    done = _pii(str(files / "c.parquet"), "--json", "--types", "credit_card")
    assert [json.loads(line) for line in done.stdout.splitlines()] == [
        {"document": f"{files / 'c.parquet'}:1", "type": "credit_card", "start": DOC.index("4111"),
         "end": len(DOC), "value": "**** 1111"}]


@pytest.mark.parametrize("name,args,words", [
    ("missing.txt", (), ("missing.txt", "no such file")),
    ("bad.parquet", (), ("bad.parquet", "not a readable parquet")),
    ("notext.parquet", (), ("notext.parquet", "no `text` column")),
    ("notext.jsonl", (), ("notext.jsonl:3", "no `text`")),
    ("a.txt", ("--types", "ssn"), ("--types", "ssn")),
    ("a.txt", ("--phone-region", "XX"), ("--phone-region", "XX")),
])
def test_bad_input_is_one_line_exit_2(files, name, args, words):
    done = _pii(str(files / name), *args)
    assert done.returncode == 2
    assert done.stdout == "" and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert all(w in done.stderr for w in words), done.stderr
