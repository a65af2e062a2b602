"""Manifests: the list of (product id, image path) a distributed embedding run works through.

A manifest is a CSV file with a header, a JSON-lines file (the columns `add` reads from a table:
product_id / id / sku and image / image_path / path / images), or a plain list (`path[,product]` a
line, as `embed --shard` always read), on local disk or anywhere fsspec opens (`s3://`, `gs://`,
`file://`, ...). Image paths relative to the manifest are relative to its folder; a URL-like
image path is read through fsspec too. Partition `part` of `n_parts` takes rows whose number mod
n_parts == part, so every worker reads its slice without talking to the others.
"""

from __future__ import annotations

import io
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .. import settings
from ..catalog.tables import ID_COLUMNS, IMAGE_COLUMNS, TABLE_SUFFIXES, missing_image_column, text_table_rows
from ..errors import ImageTooLargeError, IngestError
from ..images import read_bytes


@dataclass(frozen=True)
class ManifestRow:
    """One image to embed: its row number in the manifest, where it is, and its product (None: the
    image's folder name, as `add FOLDER` files it)."""

    row: int
    path: str
    product: str | None

    @property
    def product_id(self) -> str:
        return self.product or posixpath.basename(posixpath.dirname(self.path.replace("\\", "/")))


def is_url(path: str) -> bool:
    """A path fsspec must open (`s3://bucket/x.jpg`), as opposed to a local file name."""
    return "://" in path and not path.startswith("file://")


def _open_text(manifest: str) -> io.TextIOBase:
    if is_url(manifest):
        import fsspec  # optional: only manifests on object stores need it

        return fsspec.open(manifest, "rt", encoding="utf-8").open()
    path = Path(manifest.removeprefix("file://"))
    if not path.is_file():
        raise IngestError(f"manifest {manifest} does not exist")
    return open(path, encoding="utf-8", newline="")


def _resolve(manifest: str, image: str) -> str:
    """An image path as written in the manifest, made absolute against the manifest's folder."""
    image = image.strip()
    if is_url(image) or Path(image).is_absolute():
        return image
    if is_url(manifest):
        return posixpath.join(posixpath.dirname(manifest), image)
    return str(Path(manifest.removeprefix("file://")).parent / image)


def _records(manifest: str, fh: io.TextIOBase) -> Iterator[tuple[int, str | None, str | None]]:
    """(row number, image, product) of every data row, whatever the format; CSV and JSONL are
    parsed as strictly as `add` parses them (catalog/tables.py)."""
    kind = TABLE_SUFFIXES.get(posixpath.splitext(manifest.lower().split("?")[0])[1])
    if kind is None:  # a plain list, `path[,product]` a line
        for number, raw in enumerate(fh):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            name, _, product = line.partition(",") if "," in line else line.partition("\t")
            yield number, name, product.strip() or None
        return
    image_column = None
    for number, (_, row) in enumerate(text_table_rows(manifest, fh, kind)):
        if image_column is None:
            image_column = next((c for c in IMAGE_COLUMNS if c in row), None)
            if image_column is None:
                raise IngestError(missing_image_column(manifest, row))
        product = next((str(row[c]).strip() for c in ID_COLUMNS if row.get(c) not in (None, "")), None)
        images = row.get(image_column)
        for image in images if isinstance(images, list) else [images]:  # JSONL `images`: a list
            yield number, None if image in (None, "") else str(image).strip(), product or None


def read_manifest(manifest: str | Path, part: int = 0, n_parts: int = 1) -> Iterator[ManifestRow]:
    """Stream the rows of partition `part` (0-based) of `n_parts`; rows without an image are skipped
    here and reported by the caller as a count (`rows_without_image`)."""
    if n_parts < 1 or not 0 <= part < n_parts:
        raise IngestError(f"partition {part} of {n_parts} is out of range: need 0 <= part < n_parts")
    manifest = str(manifest)
    with _open_text(manifest) as fh:
        for number, image, product in _records(manifest, fh):
            if number % n_parts != part:
                continue
            yield ManifestRow(number, _resolve(manifest, image) if image else "", product)


def count_rows(manifest: str | Path) -> int:
    """Data rows in a manifest (one pass over its text)."""
    manifest = str(manifest)
    with _open_text(manifest) as fh:
        return sum(1 for _ in _records(manifest, fh))


def read_image_bytes(path: str, max_bytes: int | None = None) -> bytes:
    """The bytes of one image: a local file with `images.read_bytes`' checks, a URL through fsspec."""
    if not is_url(path):
        return read_bytes(path.removeprefix("file://"), max_bytes)
    import fsspec

    limit = int(max_bytes if max_bytes is not None else settings.get("max_image_bytes"))
    with fsspec.open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ImageTooLargeError(f"file is over the {limit:,}-byte cap", path)
    return data
