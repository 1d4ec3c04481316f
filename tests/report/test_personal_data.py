"""The report's personal-data section and `inspect --summary`'s lines, over the synthetic
candidates with planted e-mails and phones: counts per strategy equal those computed from
the rows (each memorized sample once), entities masked by type unless redact=False, the
run's types and region reach the masking (Masking), the lines fit 80 columns."""

from __future__ import annotations

import io
from collections import defaultdict

import pyarrow as pa
import pytest
from rich.console import Console

from memx.pii import PERSONAL_DATA_TYPE, personal_data_in_span
from memx.config.personal_data import PersonalDataConfig
from memx.report import inspect_table, render_report
from memx.report.personal_data import candidate_counts, personal_data_html, personal_data_lines
from memx.report.redact import Masking

from .conftest import EMAILS, PHONES

SETTINGS = {"run_id": "pd", "target": {"model": "lab/xl"}}


@pytest.fixture
def listed(cands):
    """The candidates with the personal_data column verify writes (the span: the whole text)."""
    texts, memorized = cands.column("text").to_pylist(), cands.column("memorized").to_pylist()
    lists = [personal_data_in_span(t, (0, len(t))) if m else [] for t, m in zip(texts, memorized)]
    return cands.append_column("personal_data", pa.array(lists, PERSONAL_DATA_TYPE))


def _expected(cands):
    per = defaultdict(lambda: {"with": set(), "email": set(), "phone": set(), "values": defaultdict(set)})
    for r in cands.to_pylist():
        if not r["memorized"]:
            continue
        entry = per[r["strategy"]]
        for kind, values in (("email", EMAILS), ("phone", PHONES)):
            for v in values:
                if v in r["text"]:
                    entry["with"].add(r["sample_id"])
                    entry[kind].add(r["sample_id"])
                    entry["values"][kind].add(v)
    return per


def test_counts_from_the_memorized_candidates(listed):
    counts = candidate_counts(listed)
    expected = _expected(listed)
    assert any(e["with"] for e in expected.values())  # the fixture plants some in memorized samples
    for strategy, e in expected.items():
        memorized = len({r["sample_id"] for r in listed.to_pylist() if r["memorized"] and r["strategy"] == strategy})
        got = counts[strategy]
        assert got["memorized_with"] == len(e["with"]) and got["share"] == len(e["with"]) / memorized
        for kind in ("email", "phone"):
            assert got["by_type"][kind] == {"samples": len(e[kind]), "distinct": len(e["values"][kind])}
        assert got["by_type"]["iban"] == {"samples": 0, "distinct": 0}


def test_section_masks_by_type_unless_asked(listed):
    masked = personal_data_html(None, listed)
    plain = personal_data_html(None, listed, redact=False)
    assert "id=\"personal-data\"" in masked and "id=\"personal-data-entities\"" in masked
    assert "memorized candidate samples" in masked  # the scope: candidates only
    for value in EMAILS + PHONES:
        assert value not in masked
    assert "j***@e***.com" in masked and "+* (***) ***-**99" in masked
    assert any(value in plain for value in EMAILS)
    from_json = personal_data_html({"top_k": {"memorized_with": 7, "share": 0.5, "by_type": {
        "email": {"samples": 7, "distinct": 2}}}}, listed, types=["email"])
    assert "memorization.json" in from_json and ">7 / 2<" in from_json and "50.0%" in from_json


def test_counting_one_type_still_masks_every_type(listed):
    only_email = Masking.of(PersonalDataConfig(types=["email"]))
    html = render_report(SETTINGS, {}, listed, None, redact=only_email)
    assert not any(e in html for e in EMAILS + PHONES)  # phones are not counted, yet masked
    console = Console(file=io.StringIO(), width=200)
    console.print(inspect_table(listed, top=1000, redact=only_email))
    shown = console.file.getvalue()
    assert not any(e in shown for e in EMAILS + PHONES)


def test_summary_lines_fit_80_columns():
    counts = {"temperature": {"memorized_with": 12_345, "share": 0.169, "by_type": {
        t: {"samples": 1000 + i, "distinct": 900 + i} for i, t in enumerate(
            ["email", "phone", "credit_card", "iban", "ip_address", "api_key", "private_key"])}},
        "top_k": {"memorized_with": 0, "share": None, "by_type": {"email": {"samples": 0, "distinct": 0}}}}
    lines = personal_data_lines(counts)
    assert lines[0].startswith("Personal data") and all(len(line) <= 80 for line in lines)
    text = " ".join(lines)
    assert "16.9%" in text and "private_key 1,006 (906 distinct)" in text and "top_k: 0 memorized" in text
    assert personal_data_lines({}) == []
