"""memorization.json's personal_data counts: only memorized samples count, a sample with
two entities of a type counts once for the type, distinct values are read from the text,
every type is present, share is null without memorized samples; grouped by strategy."""

from __future__ import annotations

from memx.pii import TYPES, personal_data_by_strategy, personal_data_summary

A = "mail a@x.example or a@x.example, call +1 650-253-0000"
B = "mail b@x.example"
C = "mail c@x.example"  # not memorized: ignored


def _ents(text):
    from memx.pii import detect

    return [{"type": e.type, "start": e.start, "end": e.end} for e in detect(text)]


def test_summary_counts():
    out = personal_data_summary([True, True, True, False], [A, B, "nothing", C],
                                [_ents(A), _ents(B), [], _ents(C)])
    assert out["memorized_with"] == 2 and out["share"] == 2 / 3
    assert out["by_type"]["email"] == {"samples": 2, "distinct": 2}
    assert out["by_type"]["phone"] == {"samples": 1, "distinct": 1}
    assert set(out["by_type"]) == set(TYPES) and out["by_type"]["iban"] == {"samples": 0, "distinct": 0}
    empty = personal_data_summary([False], [C], [_ents(C)])
    assert empty["share"] is None and empty["memorized_with"] == 0


def test_by_strategy_and_type_subset():
    out = personal_data_by_strategy(["top_k", "internet", "top_k"], [True, True, True], [A, B, B],
                                    [_ents(A), _ents(B), None], types=["email"])
    assert list(out) == ["top_k", "internet"]
    assert out["top_k"] == {"memorized_with": 1, "share": 0.5, "by_type": {"email": {"samples": 1, "distinct": 1}}}
    assert out["internet"]["by_type"]["email"] == {"samples": 1, "distinct": 1}
