"""Planted personal data recovered verbatim: the lab's ground truth against what a model emitted.

A lab plants values it knows (the contact canaries' e-mails and phone numbers, the chat
lab's customers' e-mails, phones, IBANs and cards), each a known number of copies in the
training data. `planted_entities` keeps the ones the personal data detector finds whole,
typed by it (`memx.pii`), so the table counts exactly what memorization.json's
`personal_data` could count; `recovered_rows` says, per copy count and type, how many of
them appear verbatim in some text (the run's generated text), and `planted_table` prints
those rows in one table readable at 80 columns.

Pure: values and texts in, rows out. Which texts (generated tokens only, not prompts) and
which values is the caller's choice; nothing here reads a lab or a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from rich import box
from rich.table import Table

from memx.pii import TYPES, detect


@dataclass(frozen=True)
class Planted:
    value: str
    type: str
    copies: int


@dataclass(frozen=True)
class RecoveredRow:
    copies: int
    counts: dict[str, tuple[int, int]]  # type -> (recovered, planted)


def planted_entities(values: Iterable[tuple[str, int]], types: Iterable[str] | None = None,
                     phone_region: str = "US") -> list[Planted]:
    """(value, copies) pairs -> the values the detector finds whole, with their type; a value
    it does not find whole (a street address, a name) is left out."""
    out = []
    for value, copies in values:
        found = detect(value, types, phone_region)
        if len(found) == 1 and (found[0].start, found[0].end) == (0, len(value)):
            out.append(Planted(value, found[0].type, int(copies)))
    return out


def recovered_rows(planted: Iterable[Planted], texts: Iterable[str]) -> list[RecoveredRow]:
    """Per copy count (ascending): for each type planted, (values found verbatim in some
    text, values planted). Texts are searched once, as one string."""
    haystack = "\x00".join(texts)  # NUL: no planted value spans two texts
    by_copies: dict[int, dict[str, list[int]]] = {}
    for p in planted:
        entry = by_copies.setdefault(p.copies, {}).setdefault(p.type, [0, 0])
        entry[0] += p.value in haystack
        entry[1] += 1
    order = {t: i for i, t in enumerate(TYPES)}
    return [RecoveredRow(copies, {t: (n[0], n[1]) for t, n in sorted(counts.items(), key=lambda kv: order[kv[0]])})
            for copies, counts in sorted(by_copies.items())]


def planted_table(rows: list[RecoveredRow], title: str) -> Table:
    """copies | one column per type planted: recovered/planted ('–' where none was planted)."""
    order = {t: i for i, t in enumerate(TYPES)}
    types = sorted({t for row in rows for t in row.counts}, key=order.get)
    caption = "found verbatim in the generated text / planted"
    # wide enough for its title and caption on one line each (a narrow table wraps them)
    table = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, min_width=max(len(title), len(caption)) + 2)
    table.add_column("copies", justify="right")
    for t in types:
        table.add_column(t, justify="right")
    for row in rows:
        table.add_row(str(row.copies), *(f"{row.counts[t][0]}/{row.counts[t][1]}" if t in row.counts else "–"
                                         for t in types))
    return table
