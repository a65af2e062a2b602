"""`--format table|json|jsonl|csv|tsv` (and `--json`) for every command whose output is data.

A command hands over its rows (one dict each: a product, a hit, a model version, ...) and how to
show them to a person; scripts get the same rows as JSON, JSON lines, CSV or TSV with a header.
A command that reports one thing (`info`, `add`'s report) hands over one record: one row.
A product's `attributes` become columns of their own in CSV/TSV, after the command's columns.
"""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Callable, Sequence
from typing import Any

import click

from ..catalog.export import csv_cell
from .output import print_json

FORMATS = ("table", "json", "jsonl", "csv", "tsv")
Row = dict[str, Any]


def format_option(command: Callable[..., Any] | None = None, *, option: str = "--format") -> Any:
    """Add `--format` and its alias `--json` to a command; it receives `fmt`, one of FORMATS.

    `@format_option(option="--report-format")` names the option otherwise, for a command whose
    own `--format` means something else (`export`: the feed file's format)."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def with_format(*args: Any, fmt: str | None, as_json: bool, **kwargs: Any) -> Any:
            if as_json and fmt not in (None, "json"):
                raise click.UsageError(f"--json and {option} {fmt} disagree: give one of them")
            return command(*args, fmt="json" if as_json else (fmt or "table"), **kwargs)

        with_format = click.option("--json", "as_json", is_flag=True, help=f"Same as {option} json.")(with_format)
        return click.option(
            option, "fmt", type=click.Choice(FORMATS), default=None,
            help="table (for people; plain aligned text when piped), json, jsonl (one object a line), "
                 "csv or tsv (with a header row).  [default: table]",
        )(with_format)

    return decorate if command is None else decorate(command)


def emit(fmt: str, rows: Sequence[Row], *, columns: Sequence[str], show: Callable[[], None],
         document: Any = None) -> None:
    """Print `rows` in `fmt`; `show` prints the table form, `document` is the --json output if
    it is more than the list of rows (e.g. the query with its results)."""
    if fmt == "table":
        show()
    elif fmt == "json":
        print_json(list(rows) if document is None else document)
    elif fmt == "jsonl":
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False, default=str))
    else:
        click.echo(delimited(rows, columns, "," if fmt == "csv" else "\t"), nl=False)


def emit_record(fmt: str, record: Row, show: Callable[[], None]) -> None:
    """Print one record (a report, a description) in `fmt`: CSV and TSV give a header and one row
    (lists and objects in a cell as JSON), JSON lines one line, JSON the record itself."""
    emit(fmt, [record], columns=tuple(record), show=show, document=record)


def delimited(rows: Sequence[Row], columns: Sequence[str], delimiter: str) -> str:
    """CSV (or TSV) text with a header row: `columns`, then every attribute name the rows use."""
    flat = [flatten(row) for row in rows]
    extra = sorted({key for row in flat for key in row} - set(columns))
    header = [*columns, *extra]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    for row in flat:
        writer.writerow([csv_cell(row.get(key)) for key in header])
    return buffer.getvalue()


def flatten(row: Row) -> Row:
    """A row with its `attributes` dict spread into columns (a core field wins a name clash)."""
    attributes = row.get("attributes")
    if not isinstance(attributes, dict):
        return dict(row)
    core = {k: v for k, v in row.items() if k != "attributes"}
    return {**{k: v for k, v in attributes.items() if k not in core}, **core}
