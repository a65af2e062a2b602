"""Strict CSV and JSONL parsing for ingest: rows as dicts with the line each starts on.

Loose parsing turns mistakes into data (an unterminated quote swallows the rest of the file into
one product id), so anything malformed is an IngestError naming the file and line instead.
"""

from __future__ import annotations

import csv
import difflib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, Iterator

from ..errors import IngestError

TABLE_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
ID_COLUMNS = ("product_id", "id", "sku")
IMAGE_COLUMNS = ("image", "image_path", "path", "images")
EXPECTED_COLUMNS = "product_id (or id, sku) and image (or image_path, path; in JSONL also images, a list)"

Row = dict[str, Any]


def table_rows(path: Path) -> Iterator[tuple[int, Row]]:
    """(line number, row) for each row of a CSV or JSONL file; keys stripped and lower-cased."""
    with open(path, newline="", encoding="utf-8-sig") as fh:  # -sig: a byte-order mark is not data
        yield from text_table_rows(path, fh, TABLE_SUFFIXES[path.suffix.lower()])


def text_table_rows(name: str | Path, fh: IO[str], kind: str) -> Iterator[tuple[int, Row]]:
    """`table_rows` of an open text file (a manifest on an object store, say); kind: csv or jsonl."""
    try:
        yield from (_csv_rows(Path(name), fh) if kind == "csv" else _jsonl_rows(Path(name), fh))
    except UnicodeDecodeError as exc:
        raise IngestError(f"{name}: not UTF-8 text ({exc.reason}); save it as UTF-8") from exc


def image_column_guesses(columns: Iterable[str]) -> list[str]:
    """"'image' for 'img'" for each column that looks like a misspelt image column."""
    return [f"{match[0]!r} for {col!r}" for col in sorted(columns)
            if (match := difflib.get_close_matches(col, IMAGE_COLUMNS, n=1, cutoff=0.6))]


def missing_image_column(where: str | Path, columns: Iterable[str]) -> str:
    """The message for a table without an image column: the expected columns, and a likely misspelling."""
    found = sorted(columns)
    guesses = image_column_guesses(found)
    hint = f"; did you mean {', '.join(guesses)}?" if guesses else ""
    return f"{where}: no image column: expected {EXPECTED_COLUMNS}; found {', '.join(found)}{hint}"


def _csv_rows(path: Path, fh: IO[str]) -> Iterator[tuple[int, Row]]:
    reader = csv.reader(fh, strict=True)
    header = _next_record(path, reader, 1)
    if header is None:
        raise IngestError(f"{path} is empty")
    columns = [c.strip().lower() for c in header]
    if not set(columns) & set(ID_COLUMNS):
        found = sorted(c for c in columns if c)
        raise IngestError(f"{path}: no product id column (one of {', '.join(ID_COLUMNS)}); found {found}")
    while True:
        start = reader.line_num + 1  # a quoted value may span lines: report where the row starts
        record = _next_record(path, reader, start)
        if record is None:
            return
        if not record:
            continue  # a blank line
        if any("\0" in value for value in record):
            raise IngestError(f"{path}:{start}: a NUL character (is this a binary file?)")
        if len(record) > len(columns):
            raise IngestError(
                f"{path}:{start}: {len(record)} values but the header has {len(columns)} columns "
                "(quote values that contain commas)"
            )
        values = record + [None] * (len(columns) - len(record))  # short rows: missing values are empty
        yield start, {name: value for name, value in zip(columns, values) if name}


def _next_record(path: Path, reader: Any, start: int) -> list[Any] | None:
    try:
        return next(reader)
    except StopIteration:
        return None
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            raise IngestError(f"{path}:{start}: unterminated quoted value: a quote opened on line {start} "
                              "is never closed") from exc
        if "field larger than field limit" in str(exc):
            raise IngestError(f"{path}:{start}: a value over {csv.field_size_limit():,} characters "
                              "(an unclosed quote?)") from exc
        raise IngestError(f"{path}:{start}: malformed CSV ({exc})") from exc


def _jsonl_rows(path: Path, fh: IO[str]) -> Iterator[tuple[int, Row]]:
    for line_no, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise IngestError(f"{path}:{line_no}: invalid JSON ({exc.msg})") from exc
        except ValueError as exc:  # e.g. an integer over Python's digit limit
            raise IngestError(f"{path}:{line_no}: invalid JSON ({exc})") from exc
        if not isinstance(row, dict):
            raise IngestError(f"{path}:{line_no}: each line must be a JSON object")
        yield line_no, {str(k).strip().lower(): v for k, v in row.items()}
