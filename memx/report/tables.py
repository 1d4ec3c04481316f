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

from typing import Callable, Iterable

import pyarrow as pa
import pyarrow.compute as pc
from rich.table import Table
from rich.text import Text

from memx.report.redact import masker

TOTAL = "total unique"


def _ordered(values: pa.ChunkedArray, given: Iterable[str] | None) -> list[str]:
    if given is not None:
        return list(given)
    return pc.unique(values).to_pylist()  # in order of first appearance


def _among(table: pa.Table, column: str, allowed: list[str]) -> pa.ChunkedArray:
    return pc.is_in(table.column(column), value_set=pa.array(allowed, pa.string()))


def _count(table: pa.Table, keys: list[str], distinct: str | None = None) -> dict[tuple, int]:
    """{a group's key values: its rows} per group of `keys`, or its distinct values of
    the column `distinct`: pyarrow's hash group-by."""
    target, how = (distinct, "count_distinct") if distinct else ([], "count_all")
    grouped = table.group_by(keys).aggregate([(target, how)])
    counted = grouped.column(f"{distinct}_count_distinct" if distinct else "count_all").to_pylist()
    return dict(zip(zip(*(grouped.column(key).to_pylist() for key in keys)), counted))


def table2(candidates: pa.Table, metric_names: Iterable[str] | None = None,
           strategies: Iterable[str] | None = None) -> dict:
    """{"metrics", "strategies", "verified", "counts": {metric: {strategy: n}},
    "candidates": {metric: {strategy: rows}}, "total_unique": {strategy: n}, "total": n}."""
    metrics = _ordered(candidates.column("metric"), metric_names)
    strats = _ordered(candidates.column("strategy"), strategies)
    verified = "memorized" in candidates.column_names
    shown = candidates.filter(pc.and_(_among(candidates, "metric", metrics), _among(candidates, "strategy", strats)))
    grid = lambda counted: {m: {s: counted.get((m, s), 0) for s in strats} for m in metrics}  # noqa: E731
    rows = grid(_count(shown, ["metric", "strategy"]))
    if not verified:
        return {"metrics": metrics, "strategies": strats, "verified": False,
                "counts": {m: {s: None for s in strats} for m in metrics}, "candidates": rows,
                "total_unique": {s: None for s in strats}, "total": None}
    memorized = shown.filter(shown.column("memorized"))  # a null `memorized` is not memorized
    counts = grid(_count(memorized, ["metric", "strategy"]))
    by_strategy = _count(memorized, ["strategy"], distinct="sample_id")
    total_unique = {s: by_strategy.get((s,), 0) for s in strats}
    total = pc.count_distinct(memorized.column("sample_id")).as_py()
    if "union_keep" in candidates.column_names:
        # the reducer marked one row per near-duplicate group across configurations: count
        # those, so a memorized text found by five metrics (or twice, slightly changed) is one;
        # rows of every metric count, since the group's representative may be any of them
        kept = candidates.filter(_among(candidates, "strategy", strats))
        kept = kept.filter(pc.and_(kept.column("memorized"), kept.column("union_keep")))
        per_strategy = _count(kept, ["strategy"])
        total_unique = {s: per_strategy.get((s,), 0) for s in strats}
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
                  memorized: bool | None = None, top: int = 20, redact: bool | Callable[[str], str] = True,
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
        text = masker(redact)(text) if redact else text  # redact: True, or the run's Masking
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
