"""Ingest readers: turn a folder tree, a CSV/JSONL file or a single image into catalogue rows.

Readers only describe what to add (`IngestItem`s); decoding, embedding and writing happen in the
engine, so every source goes through the same bad-input handling and atomic writes. A reader
never opens an image: a FIFO or a symlink loop in a folder is passed on as an item, and
`images.read_bytes` refuses it (NotAFileError, reason `not-a-file`) into the engine's skip report.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..errors import IngestError, NotAFileError
from ..images import is_image_path, regular_file_stat
from .store import Product
from .tables import (
    ID_COLUMNS, IMAGE_COLUMNS, TABLE_SUFFIXES, image_column_guesses, missing_image_column, table_rows,
)

__all__ = [
    "ID_COLUMNS",
    "IMAGE_COLUMNS",
    "TABLE_SUFFIXES",
    "LAYOUTS",
    "IngestItem",
    "ProductsWithImages",
    "read_edits",
    "read_folder",
    "read_source",
    "read_table",
    "title_from_name",
]

LAYOUTS = ("product", "category/product")  # folder trees: <product>/<photos>, <category>/<product>/<photos>

# Given product ids, those that already have photos in the catalogue (the engine answers it).
ProductsWithImages = Callable[[Sequence[str]], Collection[str]]


@dataclass
class IngestItem:
    """One product record, optionally with one image to attach to it."""

    product: Product
    image: Path | None
    title_derived: bool = False  # title made up from the id: never overwrite a curated one
    product_only: bool = False  # from a table with no image column: updates a product that has photos


def title_from_name(name: str) -> str:
    """'Arla-Standard-Milk' / 'oat_milk' -> 'Arla Standard Milk' / 'oat milk'."""
    return re.sub(r"\s+", " ", re.sub(r"[-_]+", " ", name)).strip() or name


def read_source(
    source: str | Path,
    product: str | None = None,
    *,
    category: str | None = None,
    layout: str = "product",
    products_with_images: ProductsWithImages | None = None,
) -> Iterator[IngestItem]:
    """Dispatch on what `source` is: folder tree, CSV/JSONL table, or one image (needs `product`).

    category: the category of every product a folder tree or single image names (a table has its
    own column). layout: how a folder tree is laid out (`LAYOUTS`, see `read_folder`).
    products_with_images: how a table with no image column is judged (see `read_table`).
    """
    if layout not in LAYOUTS:
        raise IngestError(f"unknown folder layout {layout!r}: expected one of {', '.join(LAYOUTS)}")
    path = Path(source).absolute()  # image paths are recorded as sources: valid from any working directory
    try:
        info = path.stat()
    except FileNotFoundError:
        raise IngestError(f"no such file or folder: {path}") from None
    except OSError as exc:
        raise IngestError(f"{path}: cannot open ({exc.strerror or exc})") from exc
    except ValueError as exc:  # a NUL character in the path
        raise IngestError(f"{str(path)!r}: not a usable path ({exc})") from exc
    is_dir = stat.S_ISDIR(info.st_mode)
    if product is not None:
        files = sorted(_files_under(path)) if is_dir else [path]
        for file in files:
            yield IngestItem(Product(product, title_from_name(product), category), file, title_derived=True)
        return
    if is_dir:
        yield from read_folder(path, layout=layout, category=category)
    elif path.suffix.lower() in TABLE_SUFFIXES:
        if category is not None or layout != "product":
            raise IngestError(f"{path}: a table gives each product's category in its own column; "
                              "a category or folder layout applies to folder trees and single images")
        yield from read_table(path, products_with_images=products_with_images)
    elif is_image_path(path):
        raise IngestError(f"{path} is a single image: say which product it shows with --product ID")
    else:
        raise IngestError(f"{path}: expected a folder, a .csv/.jsonl file, or an image with --product")


def read_folder(root: Path, *, layout: str = "product", category: str | None = None) -> Iterator[IngestItem]:
    """One sub-folder per product (folder name = product id); every entry below it is a candidate.

    With layout "category/product" the first folder level names the category and the second the
    product: `root/<category>/<product-id>/<photos>`. `category` sets the category of every
    product (not with that layout). Non-image files, FIFOs, sockets, symlink loops and symlinked
    folders (not walked into) are passed on too, so they are reported as skipped rather than
    silently ignored.
    """
    if layout == "category/product":
        if category is not None:
            raise IngestError(f"{root}: the category/product layout names the categories; give no category as well")
        found = [(folder, group.name) for group in _subfolders(root, "category", f"{root}/<category>/<product-id>/<photos>")
                 for folder in _subfolders(group, "product", f"{root}/<category>/<product-id>/<photos>")]
        _refuse_repeated_products(found)
    else:
        found = [(folder, category) for folder in _subfolders(
            root, "product", f"{root}/<product-id>/<photos>, or add single images with --product")]
    for folder, folder_category in found:
        product = Product(folder.name, title_from_name(folder.name), folder_category)
        files = sorted(_files_under(folder))
        if not files:
            yield IngestItem(product, None, title_derived=True)
        for file in files:
            yield IngestItem(product, file, title_derived=True)


def _subfolders(root: Path, kind: str, layout_hint: str) -> list[Path]:
    """The visible sub-folders of `root`, each one `kind`; image files beside them are an error."""
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    loose = [p for p in root.iterdir() if not p.is_dir() and is_image_path(p)]
    if not subdirs:
        raise IngestError(f"{root} has no {kind} sub-folders; lay it out as {layout_hint}")
    if loose:
        raise IngestError(
            f"{root} mixes {kind} folders with {len(loose)} loose image(s) such as {loose[0].name}; "
            f"move them into a {kind} folder (layout: {layout_hint})"
        )
    return subdirs


def _refuse_repeated_products(found: list[tuple[Path, str | None]]) -> None:
    """A product folder under two categories would silently take the last one's category."""
    first: dict[str, Path] = {}
    for folder, _ in found:
        if folder.name in first:
            raise IngestError(f"product {folder.name!r} is under two categories: {first[folder.name]} and {folder}")
        first[folder.name] = folder


def _files_under(folder: Path) -> Iterator[Path]:
    """Every visible entry below `folder` except the real directories that rglob walks into."""
    for p in folder.rglob("*"):
        if any(part.startswith(".") for part in p.relative_to(folder).parts):
            continue
        if p.is_dir() and not p.is_symlink():
            continue
        yield p


def read_table(path: Path, *, products_with_images: ProductsWithImages | None = None) -> Iterator[IngestItem]:
    """CSV or JSONL rows: product_id, image, title, category, description, <any attribute>.

    Image paths are relative to the table file (absolute ones are used as they are); several rows
    may name the same product, one image each (JSONL may also give a list under `images`). Every
    row is checked before the first item is yielded, so a malformed table adds nothing.

    A table with no image column at all (a misspelt `img`, say) is an IngestError naming the
    expected columns, unless `products_with_images` is given and says every product it names
    already has photos and no column looks like a misspelt image column: then it is a
    products-only update and its items are `product_only`.
    """
    try:
        regular_file_stat(path)
    except NotAFileError as exc:
        raise IngestError(f"{path}: {exc}") from exc
    except OSError as exc:
        raise IngestError(f"{path}: cannot open ({exc.strerror or exc})") from exc
    rows = list(table_rows(path))
    lined = [(line_no, item) for line_no, row in rows for item in _row_items(path, line_no, row)]
    if rows and not any(c in row for _, row in rows for c in IMAGE_COLUMNS):
        _require_existing_photos(path, [row for _, row in rows], lined, products_with_images)
        for _, item in lined:
            item.product_only = True
    for _, item in lined:
        yield item


def read_edits(path: Path) -> dict[str, dict[str, Any]]:
    """Bulk product edits from a CSV or JSONL file: {product id: changes for `update_product`}.

    Each row has a product id and the fields to set (title, category, description, any other
    column an attribute). An empty cell changes nothing; in JSONL a null removes an attribute or
    clears a category or description. Rows naming one product apply in order. A file with an image
    column is refused: images are added with `add`.
    """
    try:
        regular_file_stat(path)
    except (NotAFileError, OSError) as exc:
        raise IngestError(f"{path}: cannot open ({getattr(exc, 'strerror', None) or exc})") from exc
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise IngestError(f"{path}: edits come in a .csv or .jsonl file")
    jsonl = TABLE_SUFFIXES[path.suffix.lower()] == "jsonl"
    edits: dict[str, dict[str, Any]] = {}
    for line_no, row in table_rows(path):
        where = f"{path}:{line_no}"
        if image_columns := [c for c in IMAGE_COLUMNS if c in row]:
            raise IngestError(f"{where}: column {image_columns[0]!r}: edits set product fields; add images with `add`")
        pid = next((str(row[c]).strip() for c in ID_COLUMNS if row.get(c) not in (None, "")), None)
        if not pid:
            raise IngestError(f"{where}: row has no product id (column {' / '.join(ID_COLUMNS)})")
        changes = edits.setdefault(pid, {"attributes": {}})
        for key, value in row.items():
            if key in ID_COLUMNS or value == "" or (value is None and not jsonl):
                continue
            if key not in ("title", "category", "description"):
                changes["attributes"][key] = value
            elif isinstance(value, (dict, list)):
                raise IngestError(f"{where}: {key} must be a single value, not {_json_kind(value)}")
            elif key == "title" and value is None:
                raise IngestError(f"{where}: a product keeps its title (null given)")
            else:
                changes[key] = _text(value)
    return {pid: {k: v for k, v in changes.items() if v != {}} for pid, changes in edits.items()}


def _require_existing_photos(
    path: Path,
    rows: list[dict],
    lined: list[tuple[int, IngestItem]],
    products_with_images: ProductsWithImages | None,
) -> None:
    columns = sorted({c for row in rows for c in row})
    if products_with_images is None or image_column_guesses(columns):  # a misspelt `img` is no attribute
        raise IngestError(missing_image_column(path, columns))
    have = set(products_with_images(list(dict.fromkeys(item.product.id for _, item in lined))))
    for line_no, item in lined:
        if item.product.id not in have:
            raise IngestError(
                missing_image_column(f"{path}:{line_no}", columns)
                + f"; product {item.product.id!r} has no photos in the catalogue"
            )


def _row_items(path: Path, line_no: int, row: dict) -> Iterator[IngestItem]:
    where = f"{path}:{line_no}"
    for key in (*ID_COLUMNS, "title", "category", "description"):
        if isinstance(row.get(key), (dict, list)):
            raise IngestError(f"{where}: {key} must be a single value, not {_json_kind(row[key])}")
    pid = next((str(row[c]).strip() for c in ID_COLUMNS if row.get(c) not in (None, "")), None)
    if not pid:
        raise IngestError(f"{where}: row has no product id")
    if any(isinstance(row.get(c), bool) for c in ID_COLUMNS):
        raise IngestError(f"{where}: a product id must be text or a number, not true/false")
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
    column = next((c for c in IMAGE_COLUMNS if row.get(c) not in (None, "", [])), None)
    if column is None:
        yield IngestItem(product, None, derived)
        return
    images = row[column]
    for ref in images if isinstance(images, list) else [images]:
        if not isinstance(ref, str) or not ref.strip() or "\0" in ref:
            raise IngestError(f"{where}: {column} must hold image paths (text), found {ref!r:.60}")
        image = Path(ref.strip())
        yield IngestItem(product, image if image.is_absolute() else path.parent / image, derived)


def _json_kind(value: object) -> str:
    return "a JSON object" if isinstance(value, dict) else "a JSON list"


def _text(value: object) -> str | None:
    return None if value in (None, "") else str(value).strip()
