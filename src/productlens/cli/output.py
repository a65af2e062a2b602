"""Terminal output for the CLI: progress bars, tables, JSON. The library never prints.

For a person at a terminal, rich fits tables to the screen and draws progress bars on stderr.
Output to a pipe or a file is never wrapped or cut: no width limit, tables as plain aligned
text, and no progress bars at all, third-party ones included.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click
from rich.console import Console, ConsoleDimensions
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

UNLIMITED = 1_000_000  # "no width limit" for rich: lines are as long as their text


class StdoutConsole(Console):
    """rich on stdout (or stderr) with no width limit unless it is a terminal (for a pipe or a
    file, rich would take the width of the terminal on another stream, or 80, and wrap to it)."""

    @property
    def size(self) -> ConsoleDimensions:
        size = Console.size.fget(self)
        return size if self.is_terminal else ConsoleDimensions(UNLIMITED, size.height)


console = StdoutConsole()
err_console = StdoutConsole(stderr=True)  # train's messages in a log file are whole lines too


def progress_enabled(quiet: bool) -> bool:
    """Bars only for a person at a terminal: never in CI, with --quiet, or when piped."""
    return not quiet and sys.stderr.isatty() and not os.environ.get("CI")


def silence_library_progress(quiet: bool) -> None:
    """Turn off the tqdm bars of libraries we call (transformers' "Loading weights" when the text
    model is first exported, huggingface_hub) unless bars are wanted. They read these variables
    when first imported, which happens later, on first use."""
    if not progress_enabled(quiet):
        os.environ["TQDM_DISABLE"] = "1"
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"


def show_table(table: Table) -> None:
    """A rich table on a terminal; for a pipe, the same columns as plain aligned text."""
    if console.is_terminal:
        console.print(table)
        return
    table.box, table.pad_edge, table.title_justify = None, False, "left"
    with console.capture() as captured:
        console.print(table)
    for line in captured.get().splitlines():
        click.echo(line.rstrip())


def text(value: object) -> Text:
    """A table cell shown as it is: user data such as "Milk [organic]" is not rich markup."""
    return Text("" if value is None else str(value))


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
    """A ProgressSink that shows nothing (pipes, CI, --quiet)."""
    def __enter__(self) -> "NoProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def start(self, total: int | None, description: str) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


def make_progress(quiet: bool) -> RichProgress | NoProgress:
    """A progress bar when `progress_enabled`, else a sink that shows nothing."""
    return RichProgress() if progress_enabled(quiet) else NoProgress()


def print_json(data: Any) -> None:
    """Indented JSON on stdout (dates and paths as text)."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def hits_table(hits: list, title: str | None = None) -> Table:
    """Ranked products: rank, score, id, title, category."""
    table = Table(title=title, show_lines=False)
    for col, kw in (("#", {"justify": "right"}), ("score", {"justify": "right"}), ("product", {}),
                    ("title", {}), ("category", {})):
        table.add_column(col, **kw)
    for h in hits:
        table.add_row(str(h.rank), f"{h.score:.3f}", text(h.product.id), text(h.product.title), text(h.product.category))
    return table
