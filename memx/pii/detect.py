"""One detector of personal data for every caller: counting in memorization.json, masking
in the report and `memx inspect`, `memx pii`, and the tests.

`detect(text, types=None, phone_region="US")` runs the registered detector of each type
(`memx.pii.registry`; the finders live in `numbers`, `network` and `keys`) and returns
`Entity(type, start, end, value)` sorted by start, character offsets into `text`, end
exclusive. Overlapping finds are resolved in the order of `TYPES` (a private key before
an API key, an e-mail address before the phone number inside it), and of two overlapping
finds of one type the longer stays, so no character belongs to two entities.

It knows nothing about samples, spans, runs or how entities are shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import phonenumbers

import memx.pii.keys  # noqa: F401  (registers api_key, private_key)
import memx.pii.network  # noqa: F401  (registers email, ip_address)
import memx.pii.numbers  # noqa: F401  (registers phone, credit_card, iban)
from memx.pii.registry import DETECTORS, TYPES

DEFAULT_PHONE_REGION = "US"


@dataclass(frozen=True)
class Entity:
    type: str
    start: int
    end: int
    value: str


def check_types(types: Iterable[str] | None) -> tuple[str, ...]:
    """The requested types in TYPES order (all when None); ValueError naming an unknown one."""
    if types is None:
        return TYPES
    wanted = list(types)
    unknown = [t for t in wanted if t not in TYPES]
    if unknown:
        raise ValueError(f"unknown personal data type {unknown[0]!r}; known: {', '.join(TYPES)}")
    return tuple(t for t in TYPES if t in wanted)


def check_region(region: str) -> str:
    """`region` if libphonenumber has metadata for it; ValueError otherwise."""
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown phone region {region!r} (an ISO 3166 code libphonenumber knows, e.g. US, GB, DE)")
    return region


def detect(text: str, types: Iterable[str] | None = None, phone_region: str = DEFAULT_PHONE_REGION) -> list[Entity]:
    """The validated personal data in `text`, sorted by start, never overlapping."""
    if not text:
        return []
    found = []
    for rank, name in enumerate(check_types(types)):
        for start, end in DETECTORS[name](text, phone_region):
            found.append((rank, start - end, start, end, name))
    found.sort()  # by type order, then longest first
    taken: list[tuple[int, int]] = []
    kept = []
    for _, _, start, end, name in found:
        if any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        kept.append(Entity(name, start, end, text[start:end]))
    return sorted(kept, key=lambda e: e.start)
