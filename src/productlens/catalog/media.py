"""Image files kept inside a catalogue: uploaded originals and cached thumbnails.

Originals are content-addressed, `<catalog>/media/<sha[:2]>/<sha>.<ext>`, so an upload is stored
once however many products use it. Files are only ever found by the sha256 recorded in the
database (the API serves them by image id), never by a path a user gave. An image ingested from
a local folder is not copied: its recorded `source` is read, and used only if its bytes still
hash to the recorded sha256.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from ..atomic import write_bytes
from ..errors import ImageError
from ..images import content_hash, load_image, read_bytes
from .store import ImageRecord

log = logging.getLogger(__name__)

THUMB_SIZES = (128, 256, 512)
UPLOAD_PREFIX = "upload:"  # the recorded source of an uploaded image: upload:<sha256>
_SHA = re.compile(r"^[0-9a-f]{64}$")
_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "BMP": "bmp", "TIFF": "tif", "MPO": "jpg"}


class MediaStore:
    """Originals and thumbnails under `<catalog>/media`."""

    def __init__(self, catalog_path: str | Path) -> None:
        self.root = Path(catalog_path) / "media"

    def save_original(self, data: bytes, fmt: str | None) -> Path:
        """Store uploaded bytes by their hash (atomic; a file already there is kept)."""
        sha = content_hash(data)
        path = self.root / sha[:2] / f"{sha}.{file_extension(fmt)}"
        if not path.exists():
            write_bytes(path, data)
        return path

    def original_path(self, sha256: str) -> Path | None:
        """The stored upload with this hash, if any."""
        if not _SHA.match(sha256):
            return None
        folder = self.root / sha256[:2]
        if not folder.is_dir():
            return None
        for candidate in folder.glob(f"{sha256}.*"):
            return candidate
        return None

    def originals(self) -> Iterator[tuple[Path, str]]:
        """Every stored upload with its sha256 (not the thumbnails, nor temp files)."""
        folders = [f for f in self.root.iterdir() if len(f.name) == 2 and f.is_dir()] if self.root.is_dir() else []
        for folder in folders:
            for path in folder.iterdir():
                sha = path.name.split(".", 1)[0]
                if _SHA.match(sha) and path.is_file():
                    yield path, sha

    def remove_unreferenced(self, referenced: Callable[[str], bool]) -> list[Path]:
        """Remove the uploads no image refers to (left by a writer killed between storing the
        bytes and recording the image); the caller holds the write lock. Returns them."""
        removed = []
        for path, sha in list(self.originals()):
            if not referenced(sha):
                path.unlink(missing_ok=True)
                removed.append(path)
        return removed

    def file_of(self, record: ImageRecord) -> Path | None:
        """The file holding an image's bytes: its stored upload, else its ingest source while that
        is a file (not checked against the recorded hash: `original_bytes` does that)."""
        stored = self.original_path(record.sha256)
        if stored is not None:
            return stored
        if record.source and not record.source.startswith(UPLOAD_PREFIX) and Path(record.source).is_file():
            return Path(record.source)
        return None

    def original_bytes(self, record: ImageRecord) -> bytes | None:
        """The image's bytes: the stored upload, else its ingest source if unchanged; None if gone."""
        stored = self.original_path(record.sha256)
        candidates = [stored] if stored else []
        if record.source and not record.source.startswith(UPLOAD_PREFIX):
            candidates.append(Path(record.source))
        for path in candidates:
            try:
                data = read_bytes(path)
            except (OSError, ImageError):
                continue
            if content_hash(data) == record.sha256:
                return data
            log.info("image %d: %s no longer has the recorded content", record.id, path)
        return None

    def thumbnail(self, record: ImageRecord, size: int) -> Path | None:
        """A cached JPEG at most size x size pixels; built on first request; None if the original is gone."""
        if size not in THUMB_SIZES:
            raise ValueError(f"thumbnail size must be one of {THUMB_SIZES}")
        path = self.root / "thumbs" / str(size) / record.sha256[:2] / f"{record.sha256}.jpg"
        if path.exists():
            return path
        data = self.original_bytes(record)
        if data is None:
            return None
        picture = load_image(data, draft_size=size).image
        picture.thumbnail((size, size))
        buf = io.BytesIO()
        picture.save(buf, "JPEG", quality=82, optimize=True)
        write_bytes(path, buf.getvalue())
        return path


def file_extension(fmt: str | None) -> str:
    """The file extension for a Pillow format name ("JPEG" -> "jpg"); "img" when unknown."""
    return _EXTENSIONS.get(fmt or "", "img")
