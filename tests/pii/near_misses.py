"""The near misses of the labelled set (labelled.py), seeded: numbers and strings a naive
matcher takes for personal data (Luhn-invalid runs, dates and times, versions, ISBNs,
UUIDs, hashes, order numbers, invalid phone numbers, IP-like numbers, IBANs with a wrong
check digit, keys of a wrong length, e-mail-like and PEM-like text). Each carries no type.
Nothing here calls the detector.
"""

from __future__ import annotations

import random
import string
import uuid

import phonenumbers
from phonenumbers import PhoneNumberType

from .positives import (CARD_ISSUERS, IBAN_BBAN, KEY_PROVIDERS, PHONE_REGIONS, Labelled, _card_format, _card_number,
                        api_key, make_iban, pem_block)


def _isbn13(rng: random.Random) -> str:
    body = "978" + "".join(rng.choice(string.digits) for _ in range(9))
    check = (10 - sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body)) % 10) % 10
    digits = body + str(check)
    return f"{digits[:3]}-{digits[3]}-{digits[4:6]}-{digits[6:12]}-{digits[12]}"


def _isbn10(rng: random.Random) -> str:
    body = "".join(rng.choice(string.digits) for _ in range(9))
    check = sum((10 - i) * int(c) for i, c in enumerate(body)) % 11
    check = "X" if (11 - check) % 11 == 10 else str((11 - check) % 11)
    return f"{body[0]}-{body[1:4]}-{body[4:9]}-{check}"


def _invalid_phone(rng: random.Random) -> str | None:
    region = rng.choice(PHONE_REGIONS)
    example = phonenumbers.example_number_for_type(region, PhoneNumberType.FIXED_LINE)
    national = str(example.national_number)
    national = national[:-3] if rng.random() < 0.5 else national + "".join(rng.choice(string.digits) for _ in range(4))
    text = f"+{example.country_code} {national}"
    try:
        if phonenumbers.is_valid_number(phonenumbers.parse(text)):
            return None
    except phonenumbers.NumberParseException:
        pass
    return text


def near_misses(rng: random.Random) -> list[Labelled]:
    out: list[Labelled] = []

    def add(text: str, kind: str) -> None:
        out.append(Labelled(text, None, kind=kind))

    for i in range(40):  # Luhn-invalid card-like runs with issuer prefixes
        name, prefixes, length = CARD_ISSUERS[i % len(CARD_ISSUERS)]
        digits = _card_number(rng, rng.choice(prefixes), length)
        digits = digits[:-1] + str((int(digits[-1]) + rng.randrange(1, 10)) % 10)
        add(f"card {_card_format(rng, digits)} declined", "luhn-invalid")
    for i in range(40):  # dates and times
        y, mo, d, h, mi, s = (rng.randrange(1990, 2030), rng.randrange(1, 13), rng.randrange(1, 29),
                              rng.randrange(24), rng.randrange(60), rng.randrange(60))
        add(rng.choice((f"on {y}-{mo:02d}-{d:02d} at {h:02d}:{mi:02d}:{s:02d}", f"{d:02d}/{mo:02d}/{y} {h:02d}:{mi:02d}",
                        f"[{y}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}Z] started", f"{y}{mo:02d}{d:02d} {h:02d}{mi:02d}{s:02d}",
                        f"{mo}/{d}/{y} - {mo}/{d + 1}/{y}")), "date")
    for i in range(40):  # version strings, some dotted quads
        parts = [rng.randrange(0, 20) for _ in range(4)]
        add(rng.choice((f"version {'.'.join(map(str, parts))}", f"v{'.'.join(map(str, parts))}",
                        f"pip install foo=={'.'.join(map(str, parts))}", f"Python 3.{parts[1]}.{parts[2]}",
                        f"Windows 10.0.{rng.randrange(10000, 22000)}.{parts[3]}", f"release {parts[0]}.{parts[1]}.{parts[2]}",
                        f"build {rng.randrange(256, 1000)}.{parts[1]}.{parts[2]}.{parts[3]}")), "version")
    for i in range(30):
        add(rng.choice((f"ISBN {_isbn13(rng)}", f"ISBN-10 {_isbn10(rng)}", f"isbn: {_isbn13(rng).replace('-', '')}")), "isbn")
    for i in range(30):
        add(rng.choice((f"id {uuid.UUID(int=rng.getrandbits(128))}", f"request-id: {uuid.UUID(int=rng.getrandbits(128)).hex}")),
            "uuid")
    for i in range(30):
        h = "%040x" % rng.getrandbits(160)
        add(rng.choice((f"commit {h}", f"fixed in {h[:7]}", f"sha256:{'%064x' % rng.getrandbits(256)}")), "git hash")
    for i in range(30):
        add(rng.choice((f"Order #{rng.randrange(10**9, 10**10)}", f"order no. {rng.randrange(10**6, 10**7)}",
                        f"ORD-{rng.randrange(2015, 2025)}-{rng.randrange(10**5):06d}", f"invoice {rng.randrange(10**7, 10**8)}",
                        f"ticket #{rng.randrange(10**5, 10**6)}")), "order")
    for i in range(10):  # decimals whose digits would validate as a US number
        add(rng.choice((f"gamma = 0.{rng.choice(('5772156649', '2147483647', '6025403784'))}",
                        f"x = {rng.randrange(10, 99)}.{rng.randrange(10**4, 10**5)}", "scale 2.147483647e9")), "decimal")
    for i in range(10):  # lists of small numbers parse as phone numbers
        start = rng.randrange(1, 5)
        add("scores: " + " ".join(str(n) for n in range(start, start + rng.randrange(8, 12))), "number list")
    while sum(1 for o in out if o.kind == "invalid phone") < 30:
        number = _invalid_phone(rng)
        if number:
            add(f"Call {number} today.", "invalid phone")
    for i in range(30):  # IP-like but not addresses
        add(rng.choice((f"{rng.randrange(256, 1000)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
                        f"python 3.{rng.randrange(8, 14)}.{rng.randrange(20)}", f"at {rng.randrange(24):02d}:{rng.randrange(60):02d}:00",
                        "std::vector<int> v;", f"a[{rng.randrange(9)}::{rng.randrange(1, 9)}]",
                        "mac " + ":".join(f"{rng.randrange(256):02x}" for _ in range(6)),
                        f"1.2.3.4.{rng.randrange(9)}")), "ip-like")
    for i in range(24):
        add(f"IBAN: {make_iban(rng, list(IBAN_BBAN)[i % len(IBAN_BBAN)], wrong=True)}", "iban wrong check")
    for i in range(30):  # keys one character short or long
        provider = KEY_PROVIDERS[i % len(KEY_PROVIDERS)]
        key = api_key(rng, provider)
        key = key[:-1] if i % 2 else key + rng.choice(string.ascii_letters)
        if provider in ("stripe", "openai_proj"):
            key = key[:14]  # these allow a range of lengths: far too short
        add(f'API_KEY = "{key}"', "key wrong length")
    for i in range(20):
        add(rng.choice(("@property def name(self):", "ssh user@localhost", "icon@2x.png", "see foo@bar for help",
                        "a@b.c", "name at example dot com")), "email-like")
    for i in range(12):
        body = pem_block(rng, "", 4).replace("PRIVATE KEY", rng.choice(("PUBLIC KEY", "CERTIFICATE")))
        add(rng.choice((body, "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----")), "pem-like")
    return out
