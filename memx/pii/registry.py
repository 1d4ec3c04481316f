"""The detectors of personal data, registered by type name (the dolma tagger pattern).

A detector is `finder(text, phone_region) -> iterable of (start, end)`: character offsets
into `text` of the values it found and validated. `register("phone")` adds one;
`DETECTORS` maps each type to its finder; `TYPES` is the order in which overlapping
finds are resolved (the first type wins: a PEM block holds base64 that might look like a
key, an e-mail address may hold a phone number's digits).

It knows nothing about how text reaches it (a sample, a report, a file), nor about masking
or counting.
"""

from __future__ import annotations

from typing import Callable, Iterable

TYPES = ("private_key", "api_key", "email", "iban", "credit_card", "ip_address", "phone")
Finder = Callable[[str, str], Iterable[tuple[int, int]]]
DETECTORS: dict[str, Finder] = {}


def register(name: str) -> Callable[[Finder], Finder]:
    """Decorator: `finder` detects the type `name` (one of TYPES)."""
    if name not in TYPES:
        raise ValueError(f"unknown personal data type {name!r}; known: {', '.join(TYPES)}")

    def add(finder: Finder) -> Finder:
        DETECTORS[name] = finder
        return finder

    return add
