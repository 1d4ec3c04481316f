"""Masking by type: over every labelled positive, the masked text holds no detected value
whole and the mask of each type has its documented shape; text without entities is
unchanged."""

from __future__ import annotations

import re

import pytest

from memx.pii import detect, mask, mask_value

from .labelled import labelled_set


@pytest.fixture(scope="module")
def positives():
    return [s for s in labelled_set(seed=0) if s.type]


def test_no_value_survives_masking(positives):
    for s in positives:
        values = [e.value for e in detect(s.text, phone_region=s.region)]
        masked = mask(s.text, phone_region=s.region)
        assert values and not any(v in masked for v in values), (s.text, masked)
        # the text around the entity is kept as it was
        assert masked.startswith(s.text[:s.start]) and masked.endswith(s.text[s.end:])


SHAPES = {
    "email": r"[A-Za-z0-9]\*\*\*@[A-Za-z0-9]\*\*\*\.[A-Za-z]{2,}",
    "credit_card": r"\*\*\*\* \d{4}",
    "iban": r"[A-Z]{2}\*\* … [A-Z0-9]{4}",
    "phone": r"\+?[*() .\-/]*\d\d",
    "ip_address": r"(?:\d{1,3}\.\*\.\*\.\*|[0-9a-f]{1,4}:\*|::\*)",
    "api_key": r"[A-Za-z_.\-]{2,12}\*\*\*",
    "private_key": r"\[(?:[A-Z0-9]+ )*PRIVATE KEY\]",
}


def test_mask_shapes(positives):
    for s in positives:
        shown = mask_value(s.type, s.value)
        assert re.fullmatch(SHAPES[s.type], shown), (s.type, s.value, shown)
    assert mask_value("email", "jane.doe@example.com") == "j***@e***.com"
    assert mask_value("credit_card", "4111 1111 1111 1234") == "**** 1234"
    assert mask_value("iban", "DE89 3704 0044 0532 0130 00") == "DE** … 3000"
    assert mask_value("phone", "+1 (415) 555-0199") == "+* (***) ***-**99"
    assert mask_value("api_key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc") == "sk_live_***"


@pytest.mark.parametrize("text", ["", "The quick brown fox.", "2021-03-04 12:00:01 INFO up",
                                  "Python 3.11.7 and version 1.2.3.4", "id 123e4567-e89b-12d3-a456-426614174000"])
def test_nothing_to_mask(text):
    assert mask(text) == text
