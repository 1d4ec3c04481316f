"""Table 2 (memorized count per metric x strategy, plus total unique) and the inspect table.

`table2` is the one definition of the paper's Table 2 that both the HTML report and the
CLI print: cell = number of memorized candidate rows of that (metric, strategy)
configuration; "total unique" = distinct memorized `sample_id`s of the strategy over the
metrics shown (candidates.parquet already holds the union-deduplicated set per
configuration, so a sample found by several metrics counts once). `render_table2` and
`inspect_table` turn results into rich tables for the terminal.

It knows the candidate columns (ARCHITECTURE.md) and nothing about how they were made.
An unverified table (no `memorized` column) gives cells of None, shown as "–".
"""

from __future__ import annotations

from typing import Iterable

import pyarrow as pa
from rich.table import Table
from rich.text import Text

from memx.report.redact import redact as _redact

TOTAL = "total unique"


def _ordered(values: Iterable[str], given: Iterable[str] | None) -> list[str]:
    if given is not None:
        return list(given)
    return list(dict.fromkeys(values))


def table2(candidates: pa.Table, metric_names: Iterable[str] | None = None,
           strategies: Iterable[str] | None = None) -> dict:
    """{"metrics", "strategies", "verified", "counts": {metric: {strategy: n}},
    "candidates": {metric: {strategy: rows}}, "total_unique": {strategy: n}, "total": n}."""
    cols = candidates.column_names
    metric_col = candidates.column("metric").to_pylist()
    strat_col = candidates.column("strategy").to_pylist()
    ids = candidates.column("sample_id").to_pylist()
    metrics = _ordered(metric_col, metric_names)
    strats = _ordered(strat_col, strategies)
    verified = "memorized" in cols
    mem = candidates.column("memorized").to_pylist() if verified else [False] * len(ids)
    counts = {m: {s: 0 for s in strats} for m in metrics}
    rows = {m: {s: 0 for s in strats} for m in metrics}
    unique: dict[str, set] = {s: set() for s in strats}
    for sid, m, s, is_mem in zip(ids, metric_col, strat_col, mem):
        if m not in counts or s not in unique:
            continue
        rows[m][s] += 1
        if is_mem:
            counts[m][s] += 1
            unique[s].add(sid)
    if not verified:
        counts = {m: {s: None for s in strats} for m in metrics}
    total_unique = {s: (len(unique[s]) if verified else None) for s in strats}
    total = len(set().union(*unique.values())) if verified and unique else (0 if verified else None)
    if verified and "union_keep" in cols:
        # the reducer marked one row per near-duplicate group across configurations: count
        # those, so a memorized text found by five metrics (or twice, slightly changed) is one
        keep = candidates.column("union_keep").to_pylist()
        total_unique = {s: 0 for s in strats}
        for s, is_mem, kept in zip(strat_col, mem, keep):
            if kept and is_mem and s in total_unique:
                total_unique[s] += 1
        total = sum(total_unique.values())
    return {"metrics": metrics, "strategies": strats, "verified": verified, "counts": counts,
            "candidates": rows, "total_unique": total_unique, "total": total}


def _cell(v) -> str:
    return "–" if v is None else str(v)


def render_table2(t2: dict, metric_names: Iterable[str] | None = None,
                  strategies: Iterable[str] | None = None,
                  title: str = "Memorized candidates (Table 2)") -> Table:
    """A rich table of a `table2` result: metrics as rows, strategies as columns; the
    optional names pick and order rows/columns among those `table2` counted."""
    metrics = [m for m in (metric_names if metric_names is not None else t2["metrics"]) if m in t2["counts"]]
    strats = [s for s in (strategies if strategies is not None else t2["strategies"]) if s in t2["total_unique"]]
    table = Table(title=title)
    table.add_column("metric \\ strategy", style="bold")
    for s in strats:
        table.add_column(s, justify="right")
    for m in metrics:
        table.add_row(m, *[_cell(t2["counts"][m][s]) for s in strats])
    table.add_section()
    table.add_row(TOTAL, *[_cell(t2["total_unique"][s]) for s in strats], style="bold")
    if not t2["verified"]:
        table.caption = "not verified: run `memx verify` with an index to fill the cells"
    return table


def filter_candidates(candidates: pa.Table, metric: str | None = None, strategy: str | None = None,
                      memorized: bool | None = None) -> pa.Table:
    """Rows matching every given filter, ordered by rank, then metric and strategy."""
    import pyarrow.compute as pc

    mask = None
    for col, val in (("metric", metric), ("strategy", strategy), ("memorized", memorized)):
        if val is None:
            continue
        if col not in candidates.column_names:
            raise ValueError(f"candidates have no `{col}` column (not verified?)")
        cond = pc.equal(candidates.column(col), pa.scalar(val))
        mask = cond if mask is None else pc.and_(mask, cond)
    if mask is not None:
        candidates = candidates.filter(mask)
    keys = [("rank", "ascending"), ("metric", "ascending"), ("strategy", "ascending")]
    return candidates.sort_by([k for k in keys if k[0] in candidates.column_names])


def _snippet(text: str, width: int) -> str:
    flat = text.replace("\r", "").replace("\n", " ⏎ ")
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def inspect_table(candidates: pa.Table, metric: str | None = None, strategy: str | None = None,
                  memorized: bool | None = None, top: int = 20, redact: bool = True,
                  width: int = 160) -> Table:
    """The top `top` candidates after filtering, text redacted unless redact=False."""
    rows = filter_candidates(candidates, metric, strategy, memorized).slice(0, max(0, top))
    verified = "memorized" in rows.column_names
    filters = ", ".join(f"{k}={v}" for k, v in (("metric", metric), ("strategy", strategy),
                                                ("memorized", memorized)) if v is not None)
    table = Table(title=f"top {rows.num_rows} candidates" + (f" ({filters})" if filters else ""), show_lines=True)
    # Two columns, the text under its header line: any terminal width shows every field,
    # where one column per field left the text no room at 80 columns.
    table.add_column("rank", justify="right", no_wrap=True)
    table.add_column("candidate" + (" (text redacted)" if redact else ""), overflow="fold")
    for r in rows.to_pylist():
        text = r.get("text") or ""
        text = _redact(text) if redact else text
        # Text() keeps square brackets in sample text from being read as rich markup
        cell = Text(f"{r['metric']}  score {r['score']:.4g}  {r['sample_id']}", style="bold")
        if verified:
            if r["memorized"]:
                cell.append(f"  memorized: {r['match_tokens']} tokens in the corpus, {r.get('category') or '?'}",
                            style="green")
            else:
                cell.append(f"  not memorized (longest corpus match {r['match_tokens']} tokens)", style="dim")
        cell.append("\n")
        cell.append(_snippet(text, width))
        table.add_row(Text(str(r["rank"])), cell)
    return table
