"""Masking of personal data in text shown to people (report, inspect), as the paper masked
its tables: the personal data detector (`memx.pii`) finds the entities and each is masked
by its type (an e-mail `j***@e***.com`, a card `**** 1234`, an IBAN `DE** … 1234`, a phone
number with all but its last two digits starred, an API key down to its provider prefix).

Only validated personal data is masked: dates, versions, UUIDs, hashes and random digit
runs are shown as generated, since they identify no one and a reader needs them to judge a
sample. Names and street addresses pass through: the detector has no such type. It never
sees the corpus; whether to redact at all is the caller's choice (`--no-redact`), and
which types (`Masking`, from the run's `personal_data` section).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from memx.pii import DEFAULT_PHONE_REGION, mask


def redact(text: str, types: Iterable[str] | None = None, phone_region: str = DEFAULT_PHONE_REGION) -> str:
    """`text` with every entity of `types` (all by default) masked by its type."""
    return mask(text, types, phone_region) if text else text


@dataclass(frozen=True)
class Masking:
    """The masking of a run's text wherever it is shown (report, `memx inspect`): every type,
    always, with the phone region of the run's `personal_data` section. The section's
    `types` choose what is counted, never what is shown: a user who counts only e-mails has
    not asked to see phone numbers whole (`--no-redact` is that request)."""

    types: tuple[str, ...] | None = None
    phone_region: str = DEFAULT_PHONE_REGION

    @classmethod
    def of(cls, section) -> "Masking":
        """From a `personal_data` config section (None: US numbers without a country code)."""
        return cls() if section is None else cls(None, section.phone_region)

    def __call__(self, text: str) -> str:
        return redact(text, self.types, self.phone_region)


def masker(redact_: bool | Callable[[str], str]) -> Callable[[str], str] | None:
    """What a `redact` argument means: False no masking, True every type, or its own masking."""
    if not redact_:
        return None
    return redact_ if callable(redact_) else redact
