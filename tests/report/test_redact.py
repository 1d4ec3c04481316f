"""redact: personal data in many formats is masked by type, by the same detector as
`memx pii` and memorization.json (memx.pii); ordinary text, dates, versions, identifiers
and short numbers are left alone.

The old pattern-based redaction masked anything that looked like a number or a key
(`[PHONE]`, `[DIGITS:n]`, `[UUID]`, `[KEY:n]`); the detector masks only what validates,
so UUIDs, hashes and random hex are now shown (they identify no one) and a national
number is read in the phone region (US by default: a UK number needs its +44 or
phone_region GB)."""

from __future__ import annotations

import pytest

from memx.report import redact

MASKED = [
    ("write to jane.doe@example.com today", "j***@e***.com", "jane.doe"),
    ("first.last+tag@mail.co.uk", "f***@m***.uk", "first.last"),
    ("BOB_99@Example.ORG", "B***@E***.ORG", "BOB_99"),
    ("+1 (415) 555-0199", "+* (***) ***-**99", "555-0199"),
    ("call 415-555-0199", "***-***-**99", "0199"),
    ("(415) 555 0199", "(***) *** **99", "0199"),
    ("+44 20 7946 0958", "+** ** **** **58", "7946"),
    ("+33 1 23 45 67 89", "+** * ** ** ** 89", "67 89"),
    ("555.123.4567", None, None),  # 555-123 is no US exchange in the metadata: not a valid number
    ("+14155550199", "+*********99", "4155550199"),
    ("card 4111 1111 1111 1111", "**** 1111", "4111"),
    ("acct 4111111111111111", "**** 1111", "41111111"),
    ("id 4155550199", "********99", "4155550199"),  # a valid US number written plain
    ("IBAN DE89 3704 0044 0532 0130 00", "DE** … 3000", "3704"),
    ("key sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_***", "4eC39"),
    ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_***", "ghp_abc"),
    ("AKIAIOSFODNN7EXAMPLE", "AKIA***", "IOSFODNN"),
    ("host 192.168.10.254", "192.*.*.*", "192.168"),
]

KEPT = [
    "2021-03-04 12:00:01 INFO server started",
    "Python version 3.11.7 released",
    "1 2 3 4 5 6 7 8 9 10",
    "in 2019 and 2020 the rate rose 15%",
    "MAX_RETRIES_2 = test_something_2_long_name",
    "The quick brown fox jumps over the lazy dog.",
    "see https://example.org/docs/index.html",
    "123e4567-e89b-12d3-a456-426614174000",
    "commit 7f3a9c2e4b1d8f6a0c5e7b9d2f4a6c8e12345678",
    "020 7946 0958",  # a UK number without +44, read as a US one: not valid there
    "",
]


@pytest.mark.parametrize("text,mask,secret", MASKED)
def test_masked(text, mask, secret):
    out = redact(text)
    if mask is None:
        assert out == text
        return
    assert mask in out
    assert secret not in out


@pytest.mark.parametrize("text", KEPT)
def test_kept(text):
    assert redact(text) == text


def test_region_and_types():
    assert redact("020 7946 0958", phone_region="GB") == "*** **** **58"
    assert redact("mail a@b.example, call +1 650-253-0000", types=["email"]) == "mail a***@b***.example, call +1 650-253-0000"


def test_mixed_paragraph():
    text = ("Jane Doe <jane.doe@example.com>, tel +1 (415) 555-0199, card 4111 1111 1111 1111,\n"
            "logged at 2021-03-04 12:00:01 from 10.0.0.1 with token ghp_abcdefghijklmnopqrstuvwxyz0123456789")
    out = redact(text)
    for secret in ("jane.doe@", "555-0199", "4111", "10.0.0.1", "ghp_abc"):
        assert secret not in out
    assert "Jane Doe" in out and "2021-03-04 12:00:01" in out
