"""The planted table: planted values the detector finds whole, typed by it, counted per copy
count as found verbatim in some text or not; one table that fits 80 columns."""

from __future__ import annotations

import io

from rich.console import Console

from memx.lab.planted import Planted, RecoveredRow, planted_entities, planted_table, recovered_rows


def test_planted_entities_keep_what_the_detector_finds_whole():
    got = planted_entities([("quaen.nourriask@ruth.example", 1), ("+1-512-555-6530", 4),
                            ("12 Vael Street, Brix", 4), ("DE89 3704 0044 0532 0130 00", 2),
                            ("call +1-512-555-6530", 8)])
    assert got == [Planted("quaen.nourriask@ruth.example", "email", 1), Planted("+1-512-555-6530", "phone", 4),
                   Planted("DE89 3704 0044 0532 0130 00", "iban", 2)]


def test_recovered_rows_and_table():
    planted = [Planted("a@x.example", "email", 1), Planted("b@x.example", "email", 1),
               Planted("+1-512-555-6530", "phone", 1), Planted("c@x.example", "email", 16)]
    texts = ["... a@x.example ...", "reach c@x.example", "+1-512-555-", "6530"]  # split across texts: not found
    rows = recovered_rows(planted, texts)
    assert rows == [RecoveredRow(1, {"email": (1, 2), "phone": (0, 1)}), RecoveredRow(16, {"email": (1, 1)})]
    console = Console(file=io.StringIO(), width=80)
    console.print(planted_table(rows, "Planted contact data emitted"))
    shown = console.file.getvalue()
    assert all(len(line) <= 80 for line in shown.splitlines())
    assert "1/2" in shown and "0/1" in shown and "–" in shown
