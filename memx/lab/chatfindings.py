"""What the demo's chat part prints (docs/chat.md), from a finished chat run's outputs:
per strategy the memorized rate and memorized tokens per million, the planted customers
whose e-mail, phone, IBAN or card number some output holds verbatim (by how many copies of
their conversation the fine-tune saw), and `ratio_base`'s ROC AUC beside perplexity's.

The search is a plain verbatim one over the generated texts (a value is found when some
text contains it exactly); a general function of planted values by type and copy count
can replace `customers_found` without changing its rows. It knows the lab's customers
table and memorization.json's layout; no runs, storage or Ray.
"""

from __future__ import annotations

from typing import Iterable

import pyarrow as pa
from pydantic import BaseModel

FIELDS = ("email", "phone", "iban", "card")


class CustomersFound(BaseModel):
    """Planted customers of one copy count, and how many had each value found."""

    copies: int
    customers: int
    found: dict[str, int]  # field -> customers whose value some output holds verbatim
    any: int  # customers with at least one value found


def customers_found(customers: pa.Table, texts: Iterable[str]) -> list[CustomersFound]:
    """One row per copy count, ascending."""
    blob = "\n\x00".join(t for t in texts if t)  # one haystack; \x00 never occurs inside a value
    rows: dict[int, CustomersFound] = {}
    for customer in customers.to_pylist():
        copies = int(customer["copies"])
        row = rows.setdefault(copies, CustomersFound(copies=copies, customers=0, found={f: 0 for f in FIELDS}, any=0))
        row.customers += 1
        hits = [f for f in FIELDS if customer.get(f) and customer[f] in blob]
        for field in hits:
            row.found[field] += 1
        row.any += int(bool(hits))
    return [rows[c] for c in sorted(rows)]


def _plain(memorization) -> dict:
    """memorization.json's model (memx.verify.summary.Memorization) as the file's plain form."""
    return memorization.to_dict() if hasattr(memorization, "to_dict") else memorization


def strategy_rows(memorization) -> list[dict]:
    """strategy, samples, rate, memorized_tokens_per_million of each strategy."""
    memorization = _plain(memorization)
    return [{"strategy": name, "samples": s["samples"], "rate": s["rate"],
             "memorized_tokens_per_million": s.get("memorized_tokens_per_million")}
            for name, s in memorization["strategies"].items()]


def auc_pair(memorization, reference: str = "base") -> dict[str, dict[str, float | None]]:
    """{strategy: {"ratio_<reference>": auc, "perplexity": auc}} (None: one class only, or not scored)."""
    memorization = _plain(memorization)
    metrics = memorization.get("metrics", {})
    out = {}
    for strategy in memorization["strategies"]:
        out[strategy] = {name: (metrics.get(name, {}).get(strategy) or {}).get("auc")
                         for name in (f"ratio_{reference}", "perplexity")}
    return out
