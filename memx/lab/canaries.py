"""Planted canaries: made-up secrets of the paper's categories, and their insertion.

A canary is one line, `prefix + " " + secret`: the prefix is the context an attacker
could plausibly know or guess (a name, a service, a timestamp), the secret the random
bit only memorization can reproduce. Categories follow the paper's findings: contact
details, URLs, UUIDs and keys (high entropy), log lines, licence notices. Every value
comes from one seeded RNG; names are built from syllables so they are not real people.

Each copy is inserted inside a random training document at an interior line boundary,
never as a document of its own. This module does not know about tokenizers or models;
the build checks the token share and the exact counts afterwards.
"""

from __future__ import annotations

import base64
import random
import string
from dataclasses import dataclass

import pyarrow as pa

REPETITIONS = (1, 2, 4, 8, 16, 32, 64)
CATEGORIES = ("contact", "url", "high_entropy", "log", "license")

SCHEMA = pa.schema(
    [
        ("canary_id", pa.string()),
        ("category", pa.string()),
        ("text", pa.string()),
        ("prefix", pa.string()),
        ("secret", pa.string()),
        ("repetitions", pa.int32()),
    ]
)

_ONSETS = ["br", "k", "d", "v", "m", "th", "gr", "l", "s", "z", "qu", "p", "f", "n", "r", "st", "h", "j"]
_VOWELS = ["a", "e", "i", "o", "u", "ae", "y", "ou", "ia"]
_CODAS = ["", "n", "r", "x", "l", "th", "m", "sk", "nd", "v"]
_STREETS = ["Lane", "Street", "Road", "Close", "Row", "Avenue", "Way", "Crescent"]
_LEVELS = ["ERROR", "WARNING", "INFO", "CRITICAL"]
# Area codes in service: a random three digits is no US number for libphonenumber about half
# the time, and a phone canary the detector rejects is personal data no count could find.
_AREA_CODES = ("201", "206", "212", "213", "303", "305", "312", "404", "415", "503", "512", "602",
               "617", "702", "713", "718", "808", "917")


@dataclass(frozen=True)
class Canary:
    canary_id: str
    category: str
    prefix: str
    secret: str
    repetitions: int

    @property
    def text(self) -> str:
        return f"{self.prefix} {self.secret}"


def _word(rng: random.Random, syllables: int = 2) -> str:
    return "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables))


def _name(rng: random.Random) -> tuple[str, str]:
    return _word(rng, 1).capitalize(), _word(rng, 2).capitalize()


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _contact(rng: random.Random) -> tuple[str, str]:
    first, last = _name(rng)
    kind = rng.randrange(3)
    if kind == 0:
        return f"Contact {first} {last} at", f"{first.lower()}.{last.lower()}@{_word(rng, 1)}.example"
    if kind == 1:
        return f"{first} {last}, phone:", f"+1-{rng.choice(_AREA_CODES)}-555-{_digits(rng, 4)}"
    street = f"{rng.randint(2, 980)} {_word(rng).capitalize()} {rng.choice(_STREETS)}"
    return f"Ship to {first} {last},", f"{street}, {_word(rng).capitalize()}"


def _url(rng: random.Random) -> tuple[str, str]:
    prefix = f"# Mirror of {_word(rng)}-{_word(rng, 1)}:"
    secret = f"https://{_word(rng, 1)}.example.net/{_word(rng, 1)}{_digits(rng, 2)}/{_hex(rng, 6)}"
    return prefix, secret


def _high_entropy(rng: random.Random) -> tuple[str, str]:
    service = _word(rng).upper()
    kind = rng.randrange(3)
    if kind == 0:
        raw = _hex(rng, 32)
        uuid = f"{raw[:8]}-{raw[8:12]}-4{raw[13:16]}-{rng.choice('89ab')}{raw[17:20]}-{raw[20:32]}"
        return f"{service}_UUID =", uuid
    if kind == 1:
        return f"{service}_API_KEY =", _hex(rng, 24)
    token = base64.b64encode(bytes(rng.randrange(256) for _ in range(12))).decode("ascii")
    return f"{service}_TOKEN =", token


def _log(rng: random.Random) -> tuple[str, str]:
    stamp = f"20{rng.randint(10, 23)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
    prefix = f"{stamp} {rng.choice(_LEVELS)} [{_word(rng, 1)}] trace id:"
    return prefix, f"{_hex(rng, 10)} user {_digits(rng, 6)}"


def _license(rng: random.Random) -> tuple[str, str]:
    first, last = _name(rng)
    prefix = f"Copyright (c) {rng.randint(1995, 2023)} {first} {last}. Licence no."
    serial = "-".join(["".join(rng.choice(string.ascii_uppercase) for _ in range(3)), _digits(rng, 4), _digits(rng, 4)])
    return prefix, serial


_MAKERS = {"contact": _contact, "url": _url, "high_entropy": _high_entropy, "log": _log, "license": _license}


def make_canaries(seed: int, per_count: int) -> list[Canary]:
    """`per_count` canaries for every repetition count; categories rotate across all of them."""
    rng = random.Random(f"canaries-{seed}")
    canaries: list[Canary] = []
    seen: set[str] = set()
    for repetitions in REPETITIONS:
        for _ in range(per_count):
            category = CATEGORIES[len(canaries) % len(CATEGORIES)]
            while True:
                prefix, secret = _MAKERS[category](rng)
                # A canary that contained another would be counted twice by the index.
                if all(prefix not in t and secret not in t for t in seen):
                    break
            canary = Canary(f"c{len(canaries):03d}", category, prefix, secret, repetitions)
            seen.add(canary.text)
            canaries.append(canary)
    return canaries


def canaries_table(canaries: list[Canary]) -> pa.Table:
    return pa.table(
        {
            "canary_id": [c.canary_id for c in canaries],
            "category": [c.category for c in canaries],
            "text": [c.text for c in canaries],
            "prefix": [c.prefix for c in canaries],
            "secret": [c.secret for c in canaries],
            "repetitions": [c.repetitions for c in canaries],
        },
        schema=SCHEMA,
    )


def insert_canaries(docs: list[str], canaries: list[Canary], seed: int) -> list[str]:
    """Each copy goes between two lines of a random document (never first, never last)."""
    rng = random.Random(f"insert-{seed}")
    lines = [doc.split("\n") for doc in docs]
    # Insertions per doc are recorded against the *original* line numbers and applied
    # at the end, so every copy lands at a boundary of the real document text.
    planned: dict[int, list[tuple[int, int, str]]] = {}
    order = 0
    for canary in canaries:
        for _ in range(canary.repetitions):
            d = rng.randrange(len(docs))
            boundary = rng.randint(1, len(lines[d]) - 1)
            planned.setdefault(d, []).append((boundary, order, canary.text))
            order += 1
    out = list(docs)
    for d, inserts in planned.items():
        new_lines = list(lines[d])
        for boundary, _, text in sorted(inserts, reverse=True):
            new_lines.insert(boundary, text)
        out[d] = "\n".join(new_lines)
    return out


def check_unique(canaries: list[Canary], natural_text: str) -> None:
    """Fail the build if a canary's text occurs in the untouched corpus (it must be planted only)."""
    for canary in canaries:
        if canary.text in natural_text or canary.secret in natural_text:
            raise ValueError(f"canary {canary.canary_id} occurs naturally in the corpus; change the seed")
