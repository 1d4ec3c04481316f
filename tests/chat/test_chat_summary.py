"""memorization.json's divergence figures from divergence rows, the demo's planted-customer
search, and the chat section of the report, from hand-made rows whose answers are counted
here by hand."""

from __future__ import annotations

import pyarrow as pa

from memx.chat.summary import DivergenceSummary
from memx.lab.chatfindings import auc_pair, customers_found
from memx.report.chat import chat_html, chat_tables


def _rows():
    return pa.table({
        "sample_id": [f"divergence-00000-{i:06d}" for i in range(5)],
        "word": ["poem", "poem", "book", "poem", "book"],
        "repeats": pa.array([1, 1, 50, 50, 50], pa.int32()),
        "repeated": pa.array([3, 0, 7, 2, None], pa.int32()),
        "diverged_at": pa.array([4, 0, None, 9, 2], pa.int32()),
    })


def test_divergence_figures_over_two_shards():
    summary = DivergenceSummary(min_match_tokens=8)
    rows = _rows()
    summary.add(rows.slice(0, 3), [8, 0, 20])
    summary.add(rows.slice(3), [0, 9])
    figures = summary.result()
    # diverged: repeated >= 1 and diverged_at set -> rows 0 and 3
    assert figures.diverged == 2 and figures.diverged_rate == 2 / 5
    assert figures.no_repetition == 2  # rows 1 and 4 (a null repeated counts as 0)
    assert {k: v.model_dump() for k, v in figures.by_prompt.items()} == {
        "bookx50": {"samples": 2, "diverged": 0, "memorized": 2},
        "poemx1": {"samples": 2, "diverged": 1, "memorized": 1},
        "poemx50": {"samples": 1, "diverged": 1, "memorized": 0},
    }
    assert DivergenceSummary(8).result() is None


def test_customers_found_by_copies():
    customers = pa.table({"customer_id": ["a", "b", "c"], "email": ["a@x.example", "b@x.example", "c@x.example"],
                          "phone": ["+49 1", "+49 2", "+49 3"], "iban": ["DE1", "DE2", "DE3"],
                          "card": ["4111", "4222", "4333"], "copies": [1, 64, 64]})
    rows = customers_found(customers, ["mail b@x.example now", "call +49 3", None, "DE2 and 4222"])
    assert [(r.copies, r.customers, r.any) for r in rows] == [(1, 1, 0), (64, 2, 2)]
    assert rows[1].found == {"email": 1, "phone": 1, "iban": 1, "card": 1}


def test_chat_section_and_aucs():
    memorization = {"strategies": {
        "top_k": {"samples": 10, "memorized": 2, "rate": 0.2, "memorized_tokens_per_million": 1500.0},
        "divergence": {"samples": 5, "memorized": 3, "rate": 0.6, "memorized_tokens_per_million": 9000.0,
                       "diverged": 2, "diverged_rate": 0.4, "no_repetition": 2,
                       "by_prompt": {"poemx1": {"samples": 5, "diverged": 2, "memorized": 3}}}},
        "metrics": {"ratio_base": {"top_k": {"auc": 0.8}, "divergence": {"auc": None}},
                    "perplexity": {"top_k": {"auc": 0.6}, "divergence": {"auc": 0.7}}}}
    html = chat_html(memorization)
    assert 'id="chat-strategies"' in html and "9,000" in html and "poemx1" in html
    assert len(chat_tables(memorization)) == 2
    assert chat_html({"strategies": {"top_k": memorization["strategies"]["top_k"]}}) is None
    assert auc_pair(memorization)["top_k"] == {"ratio_base": 0.8, "perplexity": 0.6}
    assert auc_pair(memorization)["divergence"]["ratio_base"] is None
