"""Ingest readers: turn a folder tree, a CSV/JSONL file or a single image into catalogue rows.

Readers only describe what to add (`IngestItem`s); decoding, embedding and writing happen in the
engine, so every source goes through the same bad-input handling and atomic writes.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..errors import IngestError
from ..images import is_image_path
from .store import Product

TABLE_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
ID_COLUMNS = ("product_id", "id", "sku")
IMAGE_COLUMNS = ("image", "image_path", "path", "images")


@dataclass
class IngestItem:
    """One product record, optionally with one image to attach to it."""

    product: Product
    image: Path | None
    title_derived: bool = False  # title made up from the id: never overwrite a curated one


def title_from_name(name: str) -> str:
    """'Arla-Standard-Milk' / 'oat_milk' -> 'Arla Standard Milk' / 'oat milk'."""
    return re.sub(r"\s+", " ", re.sub(r"[-_]+", " ", name)).strip() or name


def read_source(source: str | Path, product: str | None = None) -> Iterator[IngestItem]:
    """Dispatch on what `source` is: folder tree, CSV/JSONL table, or one image (needs `product`)."""
    path = Path(source)
    if not path.exists():
        raise IngestError(f"no such file or folder: {path}")
    if product is not None:
        files = sorted(_files_under(path)) if path.is_dir() else [path]
        for file in files:
            yield IngestItem(Product(product, title_from_name(product)), file, title_derived=True)
        return
    if path.is_dir():
        yield from read_folder(path)
    elif path.suffix.lower() in TABLE_SUFFIXES:
        yield from read_table(path)
    elif is_image_path(path):
        raise IngestError(f"{path} is a single image: say which product it shows with --product ID")
    else:
        raise IngestError(f"{path}: expected a folder, a .csv/.jsonl file, or an image with --product")


def read_folder(root: Path) -> Iterator[IngestItem]:
    """One sub-folder per product (folder name = product id); every file below it is a candidate.

    Non-image files are passed on too, so they are reported as skipped rather than silently ignored.
    """
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    loose = [p for p in root.iterdir() if p.is_file() and is_image_path(p)]
    if not subdirs:
        raise IngestError(
            f"{root} has no product sub-folders; lay it out as {root}/<product-id>/<photos>, "
            "or add single images with --product"
        )
    if loose:
        raise IngestError(
            f"{root} mixes product folders with {len(loose)} loose image(s) such as {loose[0].name}; "
            "move them into a product folder or add them with --product"
        )
    for folder in subdirs:
        product = Product(folder.name, title_from_name(folder.name))
        files = sorted(_files_under(folder))
        if not files:
            yield IngestItem(product, None, title_derived=True)
        for file in files:
            yield IngestItem(product, file, title_derived=True)


def _files_under(folder: Path) -> Iterator[Path]:
    for p in folder.rglob("*"):
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts):
            yield p


def read_table(path: Path) -> Iterator[IngestItem]:
    """CSV or JSONL rows: product_id, image, title, category, description, <any attribute>.

    Image paths are relative to the table file (absolute ones are used as they are); several rows
    may name the same product, one image each (JSONL may also give a list under `images`).
    """
    kind = TABLE_SUFFIXES[path.suffix.lower()]
    rows = _csv_rows(path) if kind == "csv" else _jsonl_rows(path)
    for line_no, row in rows:
        yield from _row_items(path, line_no, row)


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None:
            raise IngestError(f"{path} is empty")
        columns = {c.strip().lower() for c in reader.fieldnames if c}
        if not columns & set(ID_COLUMNS):
            raise IngestError(f"{path}: no product id column (one of {', '.join(ID_COLUMNS)}); found {sorted(columns)}")
        for line_no, row in enumerate(reader, start=2):
            yield line_no, {k.strip().lower(): v for k, v in row.items() if k}


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise IngestError(f"{path}:{line_no}: invalid JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise IngestError(f"{path}:{line_no}: each line must be a JSON object")
            yield line_no, {str(k).strip().lower(): v for k, v in row.items()}


def _row_items(path: Path, line_no: int, row: dict[str, Any]) -> Iterator[IngestItem]:
    pid = next((str(row[c]).strip() for c in ID_COLUMNS if row.get(c) not in (None, "")), None)
    if not pid:
        raise IngestError(f"{path}:{line_no}: row has no product id")
    title = row.get("title")
    derived = title in (None, "")
    core = {"id", "title", "category", "description", *ID_COLUMNS, *IMAGE_COLUMNS}
    attributes = {k: v for k, v in row.items() if k not in core and v not in (None, "")}
    product = Product(
        pid,
        title_from_name(pid) if derived else str(title).strip(),
        _text(row.get("category")),
        _text(row.get("description")),
        attributes,
    )
    images = next((row[c] for c in IMAGE_COLUMNS if row.get(c) not in (None, "", [])), None)
    if images is None:
        yield IngestItem(product, None, derived)
        return
    for ref in images if isinstance(images, list) else [images]:
        image = Path(str(ref).strip())
        yield IngestItem(product, image if image.is_absolute() else path.parent / image, derived)


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value).strip()
