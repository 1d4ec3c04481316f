"""extraction.json from hand-made rows: shares per prefix length, (n, p) within query budgets,
extractable_chars as the share of a document's characters under a suffix with p_z >= 0.5,
the top documents' order, duplication buckets, and -inf written as null."""

from __future__ import annotations

import json
import math

import pyarrow as pa

from memx.extraction.shard import extraction_schema

from memx.extraction.summary import covered_chars, summarize
from tests.extraction.helpers import extraction_config

L = math.log


def _rows(entries, counts=None):
    columns = {name: [] for name in extraction_schema(counts is not None).names}
    for i, (doc, k, start, end, p, exact) in enumerate(entries):
        values = {"document": doc, "document_name": f"d{doc}", "prefix_tokens": k, "offset": start,
                  "char_start": start, "char_end": end, "log_p": L(p) if p else float("-inf"), "greedy_exact": exact,
                  "token_accuracy": 1.0 if exact else 0.5}
        if counts is not None:
            values["sequence_count"] = counts[i]
        for name in columns:
            columns[name].append(values[name])
    return pa.table(columns, schema=extraction_schema(counts is not None))


def test_covered_chars():
    assert covered_chars(10, [0, 2, 8], [3, 5, 20]) == 5 + 2  # [0, 5) and [8, 10)
    assert covered_chars(0, [0], [1]) == 0 and covered_chars(5, [], []) == 0


def test_summary_by_hand(tmp_path):
    config = extraction_config("m", str(tmp_path), source="/data/books/", prefix_tokens=[4, 8], suffix_tokens=2,
                               stride_tokens=1, queries=[1, 10]).extraction
    shard0 = _rows([(0, 4, 0, 10, 0.9, True), (0, 4, 5, 20, 0.6, True), (0, 4, 30, 40, 0.2, False),
                    (0, 8, 30, 40, 0.0, False), (1, 4, 0, 5, 0.0005, False)], counts=[1, 1, 2, 2, 70])
    shard1 = _rows([(2, 4, 0, 50, 0.05, False)], counts=[3])
    result = summarize(config, [(shard0, {"document": [0, 1], "chars": [100, 10]}),
                                (shard1, {"document": [2, 3], "chars": [50, 0]})]).to_dict()
    json.dumps(result, allow_nan=False)  # strict JSON: -inf must have become null
    four = result["prefix_tokens"]["4"]
    assert four["windows"] == 5 and four["documents"] == 3 and four["greedy_exact_rate"] == 2 / 5
    assert four["p_at_least"] == {"0.001": 4 / 5, "0.01": 4 / 5, "0.1": 3 / 5, "0.5": 2 / 5, "0.9": 1 / 5}
    # within 10 queries: 0.9, 0.6, 0.2 (1 - 0.8^10 = 0.89), 0.05 (0.40): >= 0.5 for three, >= 0.9 for two
    assert four["queries"]["10"] == {"0.5": 3 / 5, "0.9": 2 / 5}
    assert four["queries"]["1"] == {"0.5": 2 / 5, "0.9": 1 / 5}
    eight = result["prefix_tokens"]["8"]
    assert eight["windows"] == 1 and eight["median_log_p"] is None and eight["p_at_least"]["0.001"] == 0.0
    docs = [(d["prefix_tokens"], d["document"], d["extractable_chars"], d["windows"]) for d in result["documents"]]
    # document 0 at k 4: [0, 10) and [5, 20) have p >= 0.5 -> 20 of 100 characters
    assert docs == [(4, 0, 0.2, 3), (4, 2, 0.0, 1), (4, 1, 0.0, 1), (8, 0, 0.0, 1)]  # ties by max_log_p
    assert result["documents"][-1]["max_log_p"] is None and result["documents"][0]["chars"] == 100
    assert result["duplication"]["1"] == {"windows": 2, "p_at_least_0.5": 1.0}
    assert result["duplication"]["2-3"] == {"windows": 3, "p_at_least_0.5": 0.0}
    assert result["duplication"][">=64"] == {"windows": 1, "p_at_least_0.5": 0.0}
    assert result["settings"]["name"] == "books" and result["settings"]["documents_read"] == 4


def test_no_duplication_without_counts(tmp_path):
    config = extraction_config("m", str(tmp_path), source="s", prefix_tokens=[4]).extraction
    result = summarize(config, [(_rows([(0, 4, 0, 3, 0.7, True)]), {"document": [0], "chars": [3]})]).to_dict()
    assert "duplication" not in result and result["documents"][0]["extractable_chars"] == 1.0
