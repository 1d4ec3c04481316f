"""`memx status`: the status of a run as a terminal table, then which of its whole-run steps
(`memx.pipeline.steps`) are written. Presentation only; the facts come from
`memx.pipeline.status`, which reads manifests alone, and from each step's output.

Without a terminal (a Ray job log, CI, a pipe) rich would squeeze the table to 80 columns
and cut headers to "plann…": there the table is plain text in fixed columns whose headers
are always whole words, so a reader of logs can tell committed from corrupt.

Each stage counts its own unit (samples; documents for extraction): `done` names it, and
the rate and time left are in it.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from memx.pipeline.run import Run
from memx.pipeline.status import StageStatus, run_status
from memx.pipeline.steps import steps_of

COLUMNS = ("stage", "planned", "committed", "missing", "corrupt", "failed", "done", "rate", "time left")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def status_record(run: Run, verify_checksums: bool = True) -> dict:
    """The same facts as the table, for scripts (`memx status --json`)."""
    statuses = run_status(run, verify_checksums)
    stages = {stage: {"planned": s.planned, "committed": len(s.committed), "missing": [x.key for x in s.missing],
                      "corrupt": [x.key for x in s.corrupt], "failed": [x.key for x in s.failed],
                      "unit": s.unit, "units_planned": s.units_planned, "units_done": s.units_done,
                      "rows": s.rows, "units_per_second": round(s.units_per_second, 3),
                      "seconds_left": s.seconds_left}
              for stage, s in statuses.items()}
    steps = {step.name: {"output": step.key, "written": step.is_done(run)} for step in steps_of(run.config)}
    return {"run": run.uri, "complete": not any(s.todo for s in statuses.values()), "stages": stages, "steps": steps}


def _cells(stage: str, status: StageStatus) -> list[str]:
    return [stage, str(status.planned), str(len(status.committed)), str(len(status.missing)),
            str(len(status.corrupt)), str(len(status.failed)), f"{status.units_done:,} {status.unit}",
            f"{status.units_per_second:,.2f}/s", _duration(status.seconds_left)]


def plain_table(title: str, rows: list[list[str]], headers: tuple[str, ...] = COLUMNS) -> str:
    """Fixed-width text: each column as wide as its widest cell or its whole header (one
    space between columns keeps the nine of them inside 80 characters)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = lambda cells: " ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return "\n".join([title, line(list(headers)), *(line(r) for r in rows)])


def print_status(run: Run, console: Console, verify_checksums: bool = True) -> None:
    statuses = run_status(run, verify_checksums)
    rows = [_cells(stage, status) for stage, status in statuses.items()]
    if console.is_terminal:
        table = Table(title=run.uri)
        for column in COLUMNS:
            table.add_column(column, justify="left" if column == "stage" else "right", no_wrap=True)
        for row in rows:
            table.add_row(*row)
        console.print(table)
    else:
        print(plain_table(run.uri, rows))
    todo = [spec.key for status in statuses.values() for spec in status.todo]
    if todo:
        shown = ", ".join(todo[:5]) + (f" (+{len(todo) - 5} more)" if len(todo) > 5 else "")
        console.print(f"to redo: {shown}\nrun `memx resume {run.uri}` to finish the run", soft_wrap=True)
    else:
        console.print("every shard is committed")
    written = {step.name: step.is_done(run) for step in steps_of(run.config)}
    console.print("whole-run steps: " + ", ".join(f"{name} {'written' if done else 'not yet'}"
                                                  for name, done in written.items()), soft_wrap=True)
