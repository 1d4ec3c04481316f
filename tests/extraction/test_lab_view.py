"""The lab's extraction view on hand-made documents and canaries: the measured documents cover
every canary once plus as many without, and a canary's p_z is the best window holding its whole
secret, tabulated by repetitions."""

from __future__ import annotations

import math

import pyarrow as pa

from memx.extraction.shard import extraction_schema
from memx.lab.extraction import by_repetitions, canary_probabilities, extraction_documents

CANARIES = [
    {"canary_id": "c0", "category": "url", "text": "Site: http://a.example", "prefix": "Site:",
     "secret": "http://a.example", "repetitions": 1},
    {"canary_id": "c1", "category": "contact", "text": "Mail bob@b.example", "prefix": "Mail",
     "secret": "bob@b.example", "repetitions": 4},
]


def test_documents_cover_every_canary_and_as_many_without():
    texts = ["plain long text " * 5, "x Site: http://a.example y", "Mail bob@b.example and more text here",
             "Mail bob@b.example", "short", "plain", "Site: http://a.example Mail bob@b.example " * 3]
    picked = extraction_documents(texts, CANARIES)
    # c0 (rarest) -> its shortest holder 1; c1 -> its shortest holder 3; then the two shortest plain ones
    assert picked == [1, 3, 4, 5]


def test_canary_probability_is_the_best_window_holding_the_whole_secret():
    text = "x Site: http://a.example y"
    a = text.index("http")
    b = a + len("http://a.example")
    rows = pa.table({"document": [7, 7, 7, 7], "document_name": ["d"] * 4, "prefix_tokens": [2, 2, 2, 4],
                     "offset": [0, 1, 2, 3], "char_start": [a, a - 1, a + 1, a], "char_end": [b, b + 2, b, b],
                     "log_p": [math.log(0.25), math.log(0.75), 0.0, float("-inf")],
                     "greedy_exact": [False, True, True, False], "token_accuracy": [0.5, 1.0, 1.0, 0.0]},
                    schema=extraction_schema(False))
    entries = canary_probabilities(CANARIES, {7: text}, rows)
    by_k = {e["prefix_tokens"]: e for e in entries}
    assert [e["canary_id"] for e in entries] == ["c0", "c0"]  # c1 has no copy in the measured document
    assert math.isclose(math.exp(by_k[2]["log_p"]), 0.75) and by_k[2]["greedy_exact"]  # offset 2 cuts the secret
    assert by_k[4]["log_p"] == float("-inf") and not by_k[4]["greedy_exact"]
    table = by_repetitions(entries)
    assert table[1][2] == {"canaries": 1, "measured": 1, "median_p": 0.75, "p_at_least_0.5": 1.0, "greedy_exact": 1.0}
    assert table[1][4]["median_p"] == 0.0  # held whole, but the scheme cannot produce it
    unheld = by_repetitions([{**by_k[2], "log_p": None}])[1][2]
    assert unheld["measured"] == 0 and unheld["median_p"] is None
