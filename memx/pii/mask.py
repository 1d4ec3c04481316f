"""Masking of personal data by type, for everything shown to people (the report,
`memx inspect`, `memx pii`), as the paper masked its tables.

`mask_value(type, value)` keeps just enough to read the shape: an e-mail `j***@e***.com`
(first letters and the top-level domain), a card `**** 1234`, an IBAN `DE** … 1234`, a
phone number its layout with every digit but the last two starred (`+* (***) ***-**99`),
an IP address its first group (`10.*.*.*`, `2001:*`), an API key its provider prefix
(`ghp_***`, `AKIA***`), a private key its kind (`[RSA PRIVATE KEY]`). No mask holds a
value whole. `mask(text)` replaces every entity `detect` finds in `text` by its mask.

It knows nothing about where the text is shown; whether to mask at all is the caller's
choice (`--no-redact`).
"""

from __future__ import annotations

import re
from typing import Iterable

from memx.pii.detect import DEFAULT_PHONE_REGION, Entity, detect

_KEY_PREFIX = re.compile(r"(?:[A-Za-z]+[_-]){1,2}|SG\.")
_PEM_KIND = re.compile(r"BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY")


def _first(word: str) -> str:
    return word[:1] + "***"


def _email(value: str) -> str:
    local, _, domain = value.rpartition("@")
    labels = domain.split(".")
    return f"{_first(local)}@{_first(labels[0])}.{labels[-1]}"


def _phone(value: str) -> str:
    digits = sum(c.isdigit() for c in value)
    out, seen = [], 0
    for c in value:
        if c.isdigit():
            seen += 1
            c = c if seen > digits - 2 else "*"
        out.append(c)
    return "".join(out)


def _card(value: str) -> str:
    return "**** " + re.sub(r"\D", "", value)[-4:]


def _iban(value: str) -> str:
    compact = value.replace(" ", "")
    return f"{compact[:2]}** … {compact[-4:]}"


def _ip(value: str) -> str:
    if ":" in value:
        return value.split(":")[0] + ":*" if value.split(":")[0] else "::*"
    return value.split(".")[0] + ".*.*.*"


def _api_key(value: str) -> str:
    m = _KEY_PREFIX.match(value)
    prefix = m.group() if m and len(m.group()) <= 12 else value[:4]
    return prefix + "***"


def _private_key(value: str) -> str:
    m = _PEM_KIND.search(value)
    return f"[{m.group(1) if m else ''}PRIVATE KEY]"


MASKS = {"email": _email, "phone": _phone, "credit_card": _card, "iban": _iban,
         "ip_address": _ip, "api_key": _api_key, "private_key": _private_key}


def mask_value(type_: str, value: str) -> str:
    """The masked form of one entity's value."""
    return MASKS[type_](value)


def mask_entities(text: str, entities: Iterable[Entity]) -> str:
    """`text` with each of `entities` (non-overlapping, offsets into `text`) masked."""
    pieces, at = [], 0
    for e in sorted(entities, key=lambda e: e.start):
        pieces += [text[at:e.start], mask_value(e.type, text[e.start:e.end])]
        at = e.end
    pieces.append(text[at:])
    return "".join(pieces)


def mask(text: str, types: Iterable[str] | None = None, phone_region: str = DEFAULT_PHONE_REGION) -> str:
    """`text` with every detected entity masked by its type."""
    if not text:
        return text
    return mask_entities(text, detect(text, types, phone_region))
