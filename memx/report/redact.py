"""Masking of personal data in text shown to people (report, inspect), as the paper masked
its tables: the personal data detector (`memx.pii`) finds the entities and each is masked
by its type (an e-mail `j***@e***.com`, a card `**** 1234`, an IBAN `DE** … 1234`, a phone
number with all but its last two digits starred, an API key down to its provider prefix).

Only validated personal data is masked: dates, versions, UUIDs, hashes and random digit
runs are shown as generated, since they identify no one and a reader needs them to judge a
sample. Names and street addresses pass through: the detector has no such type. It never
sees the corpus; whether to redact at all is the caller's choice (`--no-redact`).
"""

from __future__ import annotations

from typing import Iterable

from memx.pii import DEFAULT_PHONE_REGION, mask


def redact(text: str, types: Iterable[str] | None = None, phone_region: str = DEFAULT_PHONE_REGION) -> str:
    """`text` with every entity of `types` (all by default) masked by its type."""
    return mask(text, types, phone_region) if text else text
