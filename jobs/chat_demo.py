"""The demo's chat part: the lab's chat fine-tune attacked with `template`, `divergence`
and `top_k` (the lab's memx-chat.yaml, `memx.lab.chatconfig`), through the same pipeline
as `memx run`, then printed: per strategy the memorized rate and memorized tokens per
million, planted customers found verbatim by copy count, and `ratio_base`'s AUC beside
perplexity's (`memx.lab.chatfindings`). It lives in jobs/ because it runs the Ray pipeline.
"""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

# Per strategy, at most (the tiny lab's 100 stay 100): sized for about a minute on 2 idle
# CPU cores with the default lab; its 1,000 per strategy would take several.
CHAT_SAMPLES = 200


def _percent(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _auc(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def chat_texts(run) -> list[str]:
    """Every sample's generated text."""
    from memx.pipeline.stages import SAMPLES
    from memx.shards import read_shard

    return [t for spec in run.plan(SAMPLES) for t in read_shard(run.storage, spec, ["text"]).column("text").to_pylist()]


def run_chat_demo(lab: Path, out_dir: str, console: Console, redact: bool = True,
                  samples: int | None = None) -> dict:
    from jobs.run import run_pipeline
    from memx.config import parse_config
    from memx.lab.chatconfig import lab_chat_config
    from memx.lab.chatfindings import auc_pair, customers_found, strategy_rows
    from memx.pipeline.memorization import read_memorization
    from memx.pipeline.run import new_run

    started = time.time()
    raw = lab_chat_config(lab)
    raw["generation"]["samples_per_strategy"] = samples or min(CHAT_SAMPLES, raw["generation"]["samples_per_strategy"])
    raw.update(output=out_dir, run_id=f"{raw['run_id'].replace('lab-', 'demo-')}")
    run = new_run(parse_config(raw, source="demo chat config"))
    run_pipeline(run, log=console.print, redact=redact)
    memorization = read_memorization(run)

    per = Table(title="Chat fine-tune (xl + LoRA adapter, base xl as reference)")
    for column in ("strategy", "samples", "memorized rate", "memorized tokens / 10^6"):
        per.add_column(column, justify="left" if column == "strategy" else "right")
    rows = strategy_rows(memorization)
    for row in rows:
        tpm = row["memorized_tokens_per_million"]
        per.add_row(row["strategy"], f"{row['samples']:,}", _percent(row["rate"]), "–" if tpm is None else f"{tpm:,.0f}")
    console.print(per)

    found = customers_found(pq.read_table(Path(lab) / "customers.parquet"), chat_texts(run))
    customers = Table(title="Planted customers whose personal data an output holds verbatim")
    for column in ("copies", "customers", "e-mail", "phone", "IBAN", "card", "any"):
        customers.add_column(column, justify="right")
    for row in found:
        customers.add_row(str(row.copies), str(row.customers), *(str(row.found[f]) for f in ("email", "phone", "iban", "card")),
                          f"{row.any}/{row.customers}")
    console.print(customers)

    aucs = auc_pair(memorization)
    auc_table = Table(title="ROC AUC: does the base reference separate what the fine-tune memorized?")
    for column in ("strategy", "ratio_base", "perplexity"):
        auc_table.add_column(column, justify="left" if column == "strategy" else "right")
    for strategy, pair in aucs.items():
        auc_table.add_row(strategy, _auc(pair["ratio_base"]), _auc(pair["perplexity"]))
    console.print(auc_table)
    seconds = time.time() - started
    console.print(f"chat part: {seconds:.0f}s, report {run.uri}/report.html", soft_wrap=True)
    return {"strategies": rows, "customers": [r.model_dump() for r in found], "auc": aucs, "seconds": seconds,
            "memorization": memorization}
