"""One progress display for long work: a rich bar with rate and ETA on a terminal, plain
timestamped log lines (at most one every few seconds) when output is not a terminal.

It knows counts and units, nothing about what is being counted.
"""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)


class StageProgress:
    def __init__(self, description: str, total: int, unit: str = "samples", interval: float = 5.0):
        self.description, self.total, self.unit = description, total, unit
        self.done = 0
        self.extra: dict[str, float] = {}
        self.started = time.time()
        # the first line comes after one interval: a rate over a few milliseconds means nothing
        self._interval, self._last_line = interval, self.started
        self._bar: Progress | None = None
        if sys.stderr.isatty():
            self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
                                 TimeRemainingColumn(), console=console, transient=False)
            self._task = self._bar.add_task(description, total=total, rate="")
            self._bar.start()

    def rate_text(self) -> str:
        elapsed = max(time.time() - self.started, 1e-9)
        parts = [f"{self.done / elapsed:,.1f} {self.unit}/s"]
        # a stage that reports no tokens (scoring) shows no "0 tokens/s"
        parts += [f"{value / elapsed:,.0f} {name}/s" for name, value in self.extra.items() if value]
        return ", ".join(parts)

    def advance(self, count: int, **extra: float) -> None:
        self.done += count
        for name, value in extra.items():
            self.extra[name] = self.extra.get(name, 0.0) + value
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, rate=self.rate_text())
            return
        now = time.time()
        if now - self._last_line >= self._interval or self.done >= self.total:
            self._last_line = now
            elapsed = now - self.started
            rate = self.done / elapsed if elapsed > 0 else 0.0
            eta = (self.total - self.done) / rate if rate > 0 else float("nan")
            print(f"[{time.strftime('%H:%M:%S')}] {self.description}: {self.done}/{self.total} {self.unit} "
                  f"({self.rate_text()}, ETA {eta:,.0f}s)", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
