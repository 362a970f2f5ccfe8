"""A live progress bar (steps, ETA, loss, metric) on a terminal; silent otherwise."""

from __future__ import annotations

import sys
from typing import Any


class Progress:
    """Wraps rich's progress bar; every method is a no-op when disabled."""

    def __init__(
        self, total: int, *, enabled: bool, done: int = 0, title: str = "training"
    ) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._bar: Any = None
        self._task: Any = None
        self.fields = {"loss": "", "metric": ""}
        if not self.enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        self._bar = RichProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("steps"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[loss]} {task.fields[metric]}"),
            console=Console(stderr=True),
            transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task(title, total=total, completed=done, **self.fields)

    def advance(self, steps: int = 1, **fields: str) -> None:
        if self._bar is not None:
            self.fields.update(fields)
            self._bar.update(self._task, advance=steps, **self.fields)

    def note(self, **fields: str) -> None:
        if self._bar is not None:
            self.fields.update(fields)
            self._bar.update(self._task, **self.fields)

    def print(self, message: str) -> None:
        if self._bar is not None:
            self._bar.console.print(message)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
