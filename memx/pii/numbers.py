"""Detectors of numbers that identify a person or an account: phone numbers, payment
cards and IBANs, each found by a cheap pattern and then validated by a library.

- phone: libphonenumber's matcher (`phonenumbers.PhoneNumberMatcher`, leniency VALID:
  the number parses and is valid in its region's metadata; numbers without a country
  code are read in `phone_region`). The matcher is slow, so it runs only on windows
  around runs of at least 7 digits; a number labelled as an order, invoice, ticket, ISBN
  or `#` reference, glued to a code (`ORD-2024-012610`), written as a list of lone digits
  (`1 2 3 4 5 6 7 8 9 10`), or a decimal number or its digits (`0.5772156649`) is not a
  phone.
- credit_card: 13-19 digits, plain or grouped 4-4-4-4(-3) / 4-6-5 / 4-6-4 with one
  separator (space or dash), passing the Luhn check (python-stdnum) with a length the
  issuer of its prefix (IIN) uses.
- iban: a country code, two check digits and the BBAN, plain or in groups of four,
  matching the country's length and structure and the mod-97 check (python-stdnum's
  IBAN registry; national account checks are not applied, the IBAN rule is).

It knows nothing about masking, spans or where the text came from.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from stdnum import iban as _iban
from stdnum import luhn

from memx.pii.registry import register

# ---- phone ----------------------------------------------------------------------------

# at least 7 digits with the separators a written phone number uses between them (the
# pattern starts with a digit, so the regex engine skips ahead to digits cheaply)
_PHONE_RUN = re.compile(r"\d(?:[ \t().\-/]{0,3}\d){6,}")
_PHONE_MARGIN = 12  # context the matcher looks at (an extension, a letter glued on)
# a number labelled as something else, or glued to a code (ORD-2024-012610)
_NOT_A_PHONE = re.compile(r"(?:isbn(?:-1[03])?|order|invoice|ticket|ref(?:erence)?|no\.|#)\s*[:#]?\s*$|[A-Za-z]-$", re.I)


def _phone_windows(text: str):
    """Merged [start, end) windows around digit runs long enough to be a phone number."""
    window = None
    for m in _PHONE_RUN.finditer(text):
        start, end = max(0, m.start() - _PHONE_MARGIN), min(len(text), m.end() + _PHONE_MARGIN)
        if window and start <= window[1]:
            window = (window[0], end)
            continue
        if window:
            yield window
        window = (start, end)
    if window:
        yield window


_DECIMAL = re.compile(r"\+?\d+\.\d+")


def _is_other_number(raw: str, before: str, after: str) -> bool:
    """A list of lone digits ("1 2 3 4 5 6 7 8 9 10" parses as +1 234-567-8910; no numbering
    plan writes three lone digits), a decimal number (31.01875), or the digits of one
    (0.5772156649, 1.5e10) are not phone numbers."""
    return (sum(len(g) == 1 for g in re.findall(r"\d+", raw)) > 2 or _DECIMAL.fullmatch(raw) is not None
            or before.endswith(".") or re.match(r"\.\d|[eE][+-]?\d", after) is not None)


@lru_cache(maxsize=8192)
def _matches(chunk: str, phone_region: str) -> tuple[tuple[int, int, str], ...]:
    # generated text repeats itself (memorized text most of all): a window seen before is
    # not parsed again
    return tuple((m.start, m.end, m.raw_string)
                 for m in phonenumbers.PhoneNumberMatcher(chunk, phone_region, leniency=phonenumbers.Leniency.VALID))


@register("phone")
def find_phones(text: str, phone_region: str):
    for lo, hi in _phone_windows(text):
        # the margin around the digits gives the matcher the context it checks (a letter
        # glued on, an extension); tests/pii check it finds what it finds on the whole text
        for m_start, m_end, raw in _matches(text[lo:hi], phone_region):
            start, end = lo + m_start, lo + m_end
            before = text[max(0, start - 16):start]
            if _NOT_A_PHONE.search(before) or _is_other_number(raw, before, text[end:end + 3]):
                continue
            yield start, end


# ---- credit_card ----------------------------------------------------------------------

# each pattern here starts with the character it needs first, boundary checks after it, so
# the regex engine skips ahead to candidates instead of trying a lookbehind at every position
_CARD = re.compile(
    r"\d(?<![\w.,+-]\d)(?:\d{12,18}"
    r"|\d{3}(?P<s>[ -])\d{4}(?P=s)\d{4}(?P=s)\d{4}(?:(?P=s)\d{3})?"
    r"|\d{3}(?P<t>[ -])\d{6}(?P=t)\d{4,5})(?![\w-]|[.,]\d)"
)
# (first digits, lengths) of the issuers a card number may come from (IIN ranges as the
# networks publish them): Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro
_ISSUERS = (
    (("4",), (13, 16, 19)),
    (tuple(str(p) for p in range(51, 56)) + tuple(str(p) for p in range(2221, 2721)), (16,)),
    (("34", "37"), (15,)),
    (("6011", "65") + tuple(str(p) for p in range(644, 650)), (16, 17, 18, 19)),
    (tuple(str(p) for p in range(3528, 3590)), (16, 17, 18, 19)),
    (("300", "301", "302", "303", "304", "305", "36", "38", "39"), (14, 15, 16, 17, 18, 19)),
    (("62",), (16, 17, 18, 19)),
    (("50", "56", "57", "58", "6304", "6759", "676770", "676774"), (12, 13, 14, 15, 16, 17, 18, 19)),
)


def card_issuer_ok(digits: str) -> bool:
    """Whether a known issuer uses this prefix with this length."""
    return any(len(digits) in lengths and digits.startswith(prefixes) for prefixes, lengths in _ISSUERS)


@register("credit_card")
def find_cards(text: str, phone_region: str):
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if card_issuer_ok(digits) and luhn.is_valid(digits):
            yield m.start(), m.end()


# ---- iban -----------------------------------------------------------------------------

_IBAN = re.compile(r"[A-Z](?<![A-Za-z0-9][A-Z])[A-Z]\d{2}(?: ?[A-Z0-9]{4}){2,8}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])")


def iban_ok(compact: str) -> bool:
    """The country's length and structure and the mod-97 check."""
    return 15 <= len(compact) <= 34 and _iban.is_valid(compact, check_country=False)


@register("iban")
def find_ibans(text: str, phone_region: str):
    for m in _IBAN.finditer(text):
        value = m.group()
        # a grouped IBAN may be followed by a short word the pattern took as its last group
        while True:
            if iban_ok(value.replace(" ", "")):
                yield m.start(), m.start() + len(value)
                break
            cut = value.rfind(" ")
            if cut < 15:
                break
            value = value[:cut]
