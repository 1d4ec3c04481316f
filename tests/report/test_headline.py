"""The report leads with the answer from memorization.json: the headline and the metric
table carry the file's numbers, the best metric is the one with the highest precision@100,
each strategy gets its own precision@k plot, the memorized span is marked inside the
candidate text without unmasking personal data, and the settings come last."""

from __future__ import annotations

import io
import re

import pyarrow as pa
from rich.console import Console

from memx.report import render_report
from memx.report.headline import best_k, best_metric, headline_sentence, headline_table, metric_table
from memx.verify.summary import Memorization, MemorizationSummary, StrategyMemorization


def _memorization() -> Memorization:
    """A real summary over 1,000 hand-made samples per strategy: zlib ranks the memorized
    ones first, perplexity at random."""
    summary = MemorizationSummary(["perplexity", "zlib"], min_match_tokens=5)
    for strategy, memorized_every in (("top_k", 10), ("internet", 4)):
        n = 1000
        hit = [i % memorized_every == 0 for i in range(n)]
        summary.add(pa.table({
            "sample_id": [f"{strategy}-00000-{i:05d}" for i in range(n)],
            "match_tokens": [8 if h else 2 for h in hit],
            "match_start": [0] * n, "match_end": [8 if h else 2 for h in hit],
            "corpus_count": [3 if h else 40 for h in hit],
            "token_ids": [[i % 7] * 8 + [1, 2] for i in range(n)],
            "score_perplexity": [float((i * 37) % 101) for i in range(n)],
            "score_zlib": [10.0 + h + i / 1e4 for i, h in enumerate(hit)],
        }), strategy)
    return summary.result()


def _text(renderable) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=80, force_terminal=False).print(renderable)
    return buffer.getvalue()


def test_best_metric_and_headline_numbers():
    memorization = _memorization()
    assert best_k(memorization) == "100"  # the top tenth of 1,000 samples
    assert best_metric(memorization, "top_k") == ("zlib", 1.0)  # zlib's top 100 are all memorized
    perplexity = memorization.metrics["perplexity"]["top_k"].precision_at["100"]
    assert perplexity < 0.5
    sentence = headline_sentence(memorization)
    assert "top_k: 100 of 1,000 samples memorized (10.0%, 7 distinct spans)" in sentence
    assert "zlib ranks best (100.0% of its top 100)" in sentence
    small = Memorization(min_match_tokens=5, metrics={}, duplication={}, strategies={"a": StrategyMemorization(
        samples=150, memorized=0, rate=0.0, memorized_token_share=0.0, unique_memorized=0, good_turing_unseen=None)})
    assert best_k(small) == "10"


def test_terminal_tables_fit_80_columns_with_whole_header_words():
    memorization = _memorization()
    for renderable, words in ((headline_table(memorization), ("strategy", "samples", "memorized", "rate", "token",
                                                               "share", "distinct", "spans", "unseen")),
                              (metric_table(memorization), ("metric", "top_k", "internet"))):
        text = _text(renderable)
        assert all(len(line) <= 80 for line in text.splitlines()), text
        assert "…" not in text
        for word in words:
            assert re.search(rf"\b{re.escape(word)}\b", text), (word, text)


def test_report_leads_with_the_answer_and_marks_spans(tmp_path):
    memorization = _memorization()
    secret = "mail jane.doe@example.com now"
    candidates = pa.table({
        "sample_id": ["top_k-00000-00000", "top_k-00000-00001"], "strategy": ["top_k", "top_k"],
        "metric": ["zlib", "zlib"], "rank": pa.array([1, 2], pa.int32()), "score": [2.0, 1.0],
        "text": [f"before {secret} after", "nothing here"], "duplicates": pa.array([1, 1], pa.int32()),
        "union_keep": [True, True], "match_tokens": pa.array([9, 1], pa.int32()), "memorized": [True, False],
        "category": ["contact", "other"], "match_text": [secret, "here"]})
    html = render_report({"run_id": "r"}, {}, candidates, None, memorization=memorization,
                         models=[{"role": "target", "name": "target", "model": "m", "parameters": 1234, "split": "train"}])
    order = [html.index(marker) for marker in ("id=\"memorization\"", "id=\"metrics\"", "id=\"table2\"",
                                               "id=\"candidates\"", "id=\"models\"", "id=\"settings\"")]
    assert order == sorted(order)
    assert html.count("precision at k per metric") == 2 and html.count("data:image/png;base64") >= 2
    assert "jane.doe@example.com" not in html
    marked = re.search(r"<mark>(.*?)</mark>", html).group(1)
    assert marked == "mail j***@e***.com now"
    assert "<mark>here</mark>" not in html  # only memorized spans are marked
    unredacted = render_report({"run_id": "r"}, {}, candidates, None, redact=False, memorization=memorization)
    assert f"<mark>{secret}</mark>" in unredacted


def test_report_without_memorization_says_how_to_get_it():
    candidates = pa.table({"sample_id": ["a-00000-00000"], "strategy": ["a"], "metric": ["zlib"],
                           "rank": pa.array([1], pa.int32()), "score": [1.0], "text": ["x"]})
    html = render_report({"run_id": "r"}, {}, candidates, None)
    assert "verify.scope: all" in html and "id=\"memorization\"" not in html
