"""redact: personal data in many formats is masked; ordinary text, dates, versions,
identifiers and short numbers are left alone."""

from __future__ import annotations

import pytest

from memx.report import redact

MASKED = [
    ("write to jane.doe@example.com today", "j***@e***.com", "jane.doe"),
    ("first.last+tag@mail.co.uk", "f***@m***.uk", "first.last"),
    ("BOB_99@Example.ORG", "B***@E***.ORG", "BOB_99"),
    ("+1 (415) 555-0199", "[PHONE]", "555-0199"),
    ("call 415-555-0199", "[PHONE]", "0199"),
    ("(415) 555 0199", "[PHONE]", "0199"),
    ("+44 20 7946 0958", "[PHONE]", "7946"),
    ("020 7946 0958", "[PHONE]", "7946"),
    ("+33 1 23 45 67 89", "[PHONE]", "67 89"),
    ("555.123.4567", "[PHONE]", "4567"),
    ("+14155550199", "[PHONE]", "4155550199"),
    ("card 4111 1111 1111 1111", "[DIGITS:16]", "1111"),
    ("acct 4111111111111111", "[DIGITS:16]", "4111"),
    ("id 4155550199", "[DIGITS:10]", "4155550199"),
    ("123e4567-e89b-12d3-a456-426614174000", "[UUID]", "426614174000"),
    ("key sk_live_4eC39HqLyjWDarjtT1zdp7dc", "[KEY:32]", "4eC39"),
    ("7f3a9c2e4b1d8f6a0c5e7b9d2f4a6c8e", "[KEY:32]", "7f3a9c"),
    ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "[KEY:40]", "ghp_abc"),
    ("AKIAIOSFODNN7EXAMPLE", "[KEY:20]", "IOSFODNN"),
    ("dGhpcyBpcyBhIHNlY3JldCBrZXkgMTIz==", "[KEY:34]", "dGhpcy"),
    ("host 192.168.10.254", "[IP]", "192.168"),
]

KEPT = [
    "2021-03-04 12:00:01 INFO server started",
    "Python version 3.11.7 released",
    "1 2 3 4 5 6 7 8 9 10",
    "in 2019 and 2020 the rate rose 15%",
    "MAX_RETRIES_2 = test_something_2_long_name",
    "The quick brown fox jumps over the lazy dog.",
    "see https://example.org/docs/index.html",
    "",
]


@pytest.mark.parametrize("text,mask,secret", MASKED)
def test_masked(text, mask, secret):
    out = redact(text)
    assert mask in out
    assert secret not in out


@pytest.mark.parametrize("text", KEPT)
def test_kept(text):
    assert redact(text) == text


def test_mixed_paragraph():
    text = ("Jane Doe <jane.doe@example.com>, tel +1 (415) 555-0199, card 4111 1111 1111 1111,\n"
            "logged at 2021-03-04 12:00:01 from 10.0.0.1 with token ghp_abcdefghijklmnopqrstuvwxyz0123456789")
    out = redact(text)
    for secret in ("jane.doe@", "555-0199", "4111", "10.0.0.1", "ghp_abc"):
        assert secret not in out
    assert "Jane Doe" in out and "2021-03-04 12:00:01" in out
