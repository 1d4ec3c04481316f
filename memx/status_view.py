"""`memx status`: the status of a run as a terminal table. Presentation only; the facts
come from `memx.status`, which reads manifests alone."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from memx.config import Config
from memx.status import run_status
from memx.storage import run_storage


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def status_record(config: Config, verify_checksums: bool = True) -> dict:
    """The same facts as the table, for scripts (`memx status --json`)."""
    statuses = run_status(run_storage(config), config, verify_checksums)
    stages = {stage: {"planned": s.planned, "committed": len(s.committed), "missing": [x.key for x in s.missing],
                      "corrupt": [x.key for x in s.corrupt], "failed": [x.key for x in s.failed],
                      "samples": s.samples, "samples_per_second": round(s.samples_per_second, 3),
                      "seconds_left": s.seconds_left}
              for stage, s in statuses.items()}
    return {"run": config.run_uri, "complete": not any(s.todo for s in statuses.values()), "stages": stages}


def print_status(config: Config, console: Console, verify_checksums: bool = True) -> None:
    storage = run_storage(config)
    statuses = run_status(storage, config, verify_checksums)
    table = Table(title=f"{config.run_uri}")
    for column in ("stage", "planned", "committed", "missing", "corrupt", "failed", "samples", "samples/s", "time left"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for stage, status in statuses.items():
        table.add_row(stage, str(status.planned), str(len(status.committed)), str(len(status.missing)),
                      str(len(status.corrupt)), str(len(status.failed)), f"{status.samples:,}",
                      f"{status.samples_per_second:,.2f}", _duration(status.seconds_left))
    console.print(table)
    todo = [spec.key for status in statuses.values() for spec in status.todo]
    if todo:
        shown = ", ".join(todo[:5]) + (f" (+{len(todo) - 5} more)" if len(todo) > 5 else "")
        console.print(f"to redo: {shown}\nrun `memx resume {config.run_uri}` to finish the run")
    else:
        console.print("every shard is committed")
