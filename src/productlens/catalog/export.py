"""Export products with their photos as a feed that `add` reads back: the inverse of ingest.

    DIR/products.csv (or products.jsonl)   one row per image: product_id, title, category,
                                           description, image, then one column per attribute;
                                           a product without photos gets one row, image empty
    DIR/images/<product>/<sha256[:16]>.<ext>   the image files

Image bytes come from the catalogue's media store or the image's recorded source, and only while
they still hash to the recorded SHA-256; an image whose bytes are gone is listed in the report and
left out. CSV holds text (numbers come back as text); JSONL keeps attribute values as they are.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import write_bytes
from ..errors import ExportError
from .media import MediaStore, file_extension
from .store import ImageRecord, Product
from .tables import ID_COLUMNS, IMAGE_COLUMNS

FEED_FORMATS = ("csv", "jsonl")
FEED_COLUMNS = ("product_id", "title", "category", "description", "image")
# Names a reader takes as something other than an attribute.
RESERVED = {*FEED_COLUMNS, "id", *ID_COLUMNS, *IMAGE_COLUMNS}


@dataclass
class ExportReport:
    """What an export wrote: the feed file, counts, and the images whose bytes are gone."""

    feed: str
    products: int = 0
    images: int = 0
    missing: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def write_feed(folder: Path, products: Sequence[Product], images: Sequence[ImageRecord], media: MediaStore,
               fmt: str = "csv") -> ExportReport:
    """Write `products` and their `images` under `folder` (created; must be empty) as a feed."""
    if fmt not in FEED_FORMATS:
        raise ExportError(f"unknown feed format {fmt!r}: expected one of {', '.join(FEED_FORMATS)}")
    _check_attribute_names(products)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ExportError(f"{folder} is not an empty folder: export into a new one, so nothing is overwritten")
    by_product: dict[str, list[ImageRecord]] = {}
    for record in images:
        by_product.setdefault(record.product_id, []).append(record)
    report = ExportReport(str(folder / f"products.{fmt}"), products=len(products))
    rows: list[dict[str, Any]] = []
    for product in products:
        written = [_copy_image(folder, product.id, record, media, report) for record in by_product.get(product.id, [])]
        for image in [path for path in written if path is not None] or [None]:
            rows.append({"product_id": product.id, "title": product.title, "category": product.category,
                         "description": product.description, "image": image, **product.attributes})
    folder.mkdir(parents=True, exist_ok=True)
    write_bytes(Path(report.feed), (_csv_text(rows) if fmt == "csv" else _jsonl_text(rows)).encode())
    return report


def csv_cell(value: Any) -> str:
    """A value as a CSV cell: empty for None, JSON for lists and objects, text for the rest."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_attribute_names(products: Sequence[Product]) -> None:
    """Refuse attributes that would not read back as the same attribute."""
    for product in products:
        for name in product.attributes:
            if name in RESERVED:
                raise ExportError(f"product {product.id!r}: attribute {name!r} has the name of a feed column; "
                                  "rename it before exporting")
            if name != name.strip().lower():
                raise ExportError(f"product {product.id!r}: attribute {name!r} would read back as "
                                  f"{name.strip().lower()!r} (column names are lower-cased); rename it before exporting")


def _copy_image(folder: Path, product_id: str, record: ImageRecord, media: MediaStore,
                report: ExportReport) -> str | None:
    """Copy one image into the export; its path relative to the feed, or None if its bytes are gone."""
    data = media.original_bytes(record)
    if data is None:
        report.missing.append(record.source or f"image {record.id}")
        return None
    relative = Path("images") / _safe_name(product_id) / f"{record.sha256[:16]}.{file_extension(record.format)}"
    write_bytes(folder / relative, data)
    report.images += 1
    return relative.as_posix()


def _safe_name(product_id: str) -> str:
    """A folder name for a product id: dots, path separators and other odd characters become '_'."""
    return re.sub(r"[^\w-]+", "_", product_id) or "_"


def _csv_text(rows: list[dict[str, Any]]) -> str:
    attributes = sorted({key for row in rows for key in row} - set(FEED_COLUMNS))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*FEED_COLUMNS, *attributes])
    for row in rows:
        writer.writerow([csv_cell(row.get(key)) for key in (*FEED_COLUMNS, *attributes)])
    return buffer.getvalue()


def _jsonl_text(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in rows)
