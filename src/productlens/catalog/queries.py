"""The photos of a batch query (`search photos/`): a folder (every image file under it), a list
file (one path a line), or a CSV/JSONL with an `image` (or `path`) column. Relative paths are
taken from the list's folder, as for ingest tables."""

from __future__ import annotations

from pathlib import Path

from ..errors import IngestError
from ..images import IMAGE_SUFFIXES
from .tables import IMAGE_COLUMNS, TABLE_SUFFIXES, table_rows

LIST_SUFFIXES = frozenset({".txt", ".lst", ".list"})


def is_batch_source(path: Path) -> bool:
    """Whether `path` names many query photos rather than one."""
    return path.is_dir() or path.suffix.lower() in LIST_SUFFIXES or path.suffix.lower() in TABLE_SUFFIXES


def read_query_photos(path: Path) -> list[Path]:
    """The query photos `path` names, in a stable order (a folder's sorted by path)."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES
                      and not any(part.startswith(".") for part in p.relative_to(path).parts))
    if path.suffix.lower() in LIST_SUFFIXES:
        try:
            lines = path.read_text().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise IngestError(f"{path}: cannot read the list ({exc})") from exc
        return [_resolve(path, line.strip()) for line in lines if line.strip() and not line.startswith("#")]
    photos = []
    for line_no, row in table_rows(path):
        column = next((c for c in IMAGE_COLUMNS if row.get(c) not in (None, "")), None)
        if column is None or not isinstance(row[column], str):
            raise IngestError(f"{path}:{line_no}: no photo path (column {' / '.join(IMAGE_COLUMNS)})")
        photos.append(_resolve(path, row[column].strip()))
    return photos


def _resolve(listing: Path, ref: str) -> Path:
    photo = Path(ref)
    return photo if photo.is_absolute() else listing.parent / photo
