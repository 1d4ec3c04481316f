"""Masking of personal data in text shown to people (report, inspect), as the paper masked
its tables.

`redact(text)` masks e-mail addresses (`j***@e***.com`: first letters and the top-level
domain stay, so the shape is readable), phone numbers (`[PHONE]`), IP addresses (`[IP]`),
UUIDs (`[UUID]`), keys and long hex/base64 secrets (`[KEY:n]`, n = length), and long
digit runs such as card or account numbers (`[DIGITS:n]`, n = digit count). Dates and
times are kept: logs stay readable and they identify no one.

It is a pattern matcher, not a PII detector: names and street addresses pass through,
and anything that merely looks like a number or key is masked. It never sees the corpus.
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"(?<![\w.+-])([A-Za-z0-9._%+-]+)@((?:[A-Za-z0-9-]+\.)+)([A-Za-z]{2,})\b")
_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
_IP = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
# Secrets: a run of key characters with at least one digit and one letter; prefixes such
# as sk_live_ / ghp_ / AKIA are part of the run.
_KEY = re.compile(r"(?<![A-Za-z0-9+/_=-])(?=[A-Za-z0-9+/_=-]*\d)(?=[A-Za-z0-9+/_=-]*[A-Za-z])"
                  r"[A-Za-z0-9+/_-]{16,}={0,2}(?![A-Za-z0-9+/_=-])")
_PHONE = re.compile(
    r"(?<![\w@+.-])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,5}\)[\s.-]?)?\d{1,5}(?:[\s.-]\d{1,5}){1,5}(?![\w-])"
    r"|(?<![\w@])\+\d{7,15}\b"
)
# contiguous runs, or card-style groups of four; dates and times never match
_DIGITS = re.compile(r"(?<![\w.])(?:\d{7,}|\d{4}(?:[ -]\d{4}){2,3})(?![\w])")
_KEY_PREFIX = re.compile(r"(?:sk|pk|rk)_(?:live|test)_|gh[pousr]_|AKIA|xox[baprs]-|AIza")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}-\d{2}-\d{4}|\d{4}")


def _mask_word(word: str) -> str:
    return word[:1] + "***" if word else word


def _email(m: re.Match) -> str:
    local, domain, tld = m.group(1), m.group(2), m.group(3)
    return f"{_mask_word(local)}@{_mask_word(domain.split('.')[0])}.{tld}"


def _key(m: re.Match) -> str:
    s = m.group(0)
    core = s.rstrip("=")
    hexy = re.fullmatch(r"(?:0x)?[0-9a-fA-F]+", core) is not None
    mixed = any(c.isupper() for c in core) and any(c.islower() for c in core)
    # hex of any case, or upper+lower+digits (base64, vendor keys); snake_case or
    # CONSTANT_NAMES with a number in them are identifiers, not secrets
    if hexy or (mixed and len(core) >= 20) or _KEY_PREFIX.match(core):
        return f"[KEY:{len(s)}]"
    return s


def _phone(m: re.Match) -> str:
    s = m.group(0)
    digits = sum(c.isdigit() for c in s)
    groups = re.split(r"[\s.()-]+", s.strip("+()"))
    # 7-15 digits is the E.164 range; a date or a lone version number is not a phone
    if not 7 <= digits <= 15 or _DATE.fullmatch(s) or (len(groups) > 2 and all(len(g) <= 1 for g in groups)):
        return s
    if not s.startswith(("+", "(")) and sum(len(g) >= 3 for g in groups) < 2:
        return s  # "1 2 3 4 5 6 7" is a list, not a phone
    return "[PHONE]"


def _digits(m: re.Match) -> str:
    s = m.group(0)
    n = sum(c.isdigit() for c in s)
    return f"[DIGITS:{n}]"


def redact(text: str) -> str:
    """`text` with e-mails, phones, IPs, UUIDs, keys and long digit runs masked."""
    if not text:
        return text
    text = _EMAIL.sub(_email, text)
    text = _UUID.sub("[UUID]", text)
    text = _IP.sub("[IP]", text)
    text = _KEY.sub(_key, text)
    text = _PHONE.sub(_phone, text)
    text = _DIGITS.sub(_digits, text)
    return text
