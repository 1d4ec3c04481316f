"""The chat section of the report and of `memx inspect --summary` (docs/chat.md): per
strategy the memorized rate and memorized tokens per million (comparable across
strategies of different lengths: `divergence` and `template` beside `top_k` on the same
model), and the divergence attack's own figures: how many samples diverged, how many never
repeated the word, and per prompt ("{word}x{repeats}") samples, diverged and memorized.

It reads memorization.json's layout only; it renders nothing when the run has no chat
strategy.
"""

from __future__ import annotations

from rich import box
from rich.table import Table

from memx.report.render import render

CHAT_STRATEGIES = ("divergence", "template")


def _percent(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _per_million(value) -> str:
    return "–" if value is None else f"{value:,.0f}"


def chat_view(memorization) -> dict | None:
    """What both renderings show, or None for a run without a chat strategy; `memorization`
    is memorization.json's model (memx.verify.summary.Memorization) or its plain form."""
    if hasattr(memorization, "to_dict"):
        memorization = memorization.to_dict()
    strategies = (memorization or {}).get("strategies", {})
    if not set(CHAT_STRATEGIES) & set(strategies):
        return None
    rows = [{"strategy": name, "samples": f"{s['samples']:,}", "memorized": f"{s['memorized']:,}",
             "rate": _percent(s.get("rate")), "per_million": _per_million(s.get("memorized_tokens_per_million"))}
            for name, s in strategies.items()]
    divergence = strategies.get("divergence")
    div = None
    if divergence and "by_prompt" in divergence:
        div = {"diverged": f"{divergence['diverged']:,}", "rate": _percent(divergence["diverged_rate"]),
               "no_repetition": f"{divergence['no_repetition']:,}",
               "prompts": [{"prompt": key, **figures} for key, figures in divergence["by_prompt"].items()]}
    return {"strategies": rows, "divergence": div}


def chat_html(memorization) -> str | None:
    view = chat_view(memorization)
    if view is None:
        return None
    return render("chat.html.j2", **view)


def chat_tables(memorization) -> list[Table]:
    """The same figures as rich tables for the terminal (none without a chat strategy)."""
    view = chat_view(memorization)
    if view is None:
        return []
    per = Table(title="Chat strategies beside the paper's (same model)", box=box.SIMPLE_HEAD)
    for column in ("strategy", "samples", "memorized", "rate", "memorized tokens / 10^6"):
        per.add_column(column, justify="left" if column == "strategy" else "right")
    for row in view["strategies"]:
        per.add_row(row["strategy"], row["samples"], row["memorized"], row["rate"], row["per_million"])
    tables = [per]
    div = view["divergence"]
    if div:
        prompts = Table(title=f"Divergence: {div['diverged']} diverged ({div['rate']}), "
                              f"{div['no_repetition']} never repeated the word", box=box.SIMPLE_HEAD)
        for column in ("prompt", "samples", "diverged", "memorized"):
            prompts.add_column(column, justify="left" if column == "prompt" else "right")
        for p in div["prompts"]:
            prompts.add_row(p["prompt"], f"{p['samples']:,}", f"{p['diverged']:,}", f"{p['memorized']:,}")
        tables.append(prompts)
    return tables
