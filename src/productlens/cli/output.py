"""Terminal output for the CLI: progress bars, tables, JSON. The library never prints."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

console = Console(stderr=False)
err_console = Console(stderr=True)


def progress_enabled(quiet: bool) -> bool:
    """Bars only for a person at a terminal: never in CI, with --quiet, or when piped."""
    return not quiet and sys.stderr.isatty() and not os.environ.get("CI")


class RichProgress:
    """A ProgressSink drawn with rich on stderr."""

    def __init__(self) -> None:
        self._bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), console=err_console, transient=True,
        )
        self._task = None

    def __enter__(self) -> "RichProgress":
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def start(self, total: int | None, description: str) -> None:
        self._task = self._bar.add_task(description, total=total, rate="")

    def advance(self, n: int = 1) -> None:
        if self._task is not None:
            task = self._bar.tasks[self._task]
            speed = task.speed
            self._bar.update(self._task, advance=n, rate=f"{speed:.0f} img/s" if speed else "")


class NoProgress:
    def __enter__(self) -> "NoProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def start(self, total: int | None, description: str) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


def make_progress(quiet: bool) -> RichProgress | NoProgress:
    return RichProgress() if progress_enabled(quiet) else NoProgress()


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def hits_table(hits: list, title: str | None = None) -> Table:
    table = Table(title=title, show_lines=False)
    for col, kw in (("#", {"justify": "right"}), ("score", {"justify": "right"}), ("product", {}),
                    ("title", {}), ("category", {})):
        table.add_column(col, **kw)
    for h in hits:
        table.add_row(str(h.rank), f"{h.score:.3f}", h.product.id, h.product.title, h.product.category or "")
    return table
