"""Image I/O: the only place that opens image files.

`load_image` turns a path or bytes into an upright 8-bit RGB `PIL.Image`, or raises a specific
`ImageError` saying why it cannot. Unusual-but-valid inputs (CMYK, 16-bit, palette, alpha,
animated) are converted, and what was done is recorded in `LoadedImage.notes`.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from . import settings
from .errors import (
    CorruptImageError,
    EmptyFileError,
    ImageError,
    ImageTooLargeError,
    ImageTooSmallError,
    NotAFileError,
    NotAnImageError,
    ReadTimeoutError,
)

ImageSource = Union[str, Path, bytes, Image.Image]

# File endings that ingest walks over in folders; anything else is reported, not opened.
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".jfif"}
)

_WHITE = (255, 255, 255)
MIN_SIDE = 8  # pixels: a smaller image (or query box) is too little to embed
READ_TIMEOUT_S = 30.0  # a file still arriving after this long (a stalled network mount) is refused
_READ_CHUNK = 1 << 20
_ONLY_FILES = "not a regular file: only regular files are read"
_NOT_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


@dataclass
class LoadedImage:
    """A decoded image plus what we learnt on the way."""

    image: Image.Image  # mode RGB, EXIF orientation applied
    sha256: str | None  # of the file bytes; None for in-memory PIL input
    width: int  # original size, before any draft reduction
    height: int
    format: str | None
    notes: list[str] = field(default_factory=list)
    captured_at: float | None = None  # EXIF capture time, seconds since the epoch (camera clock)


def content_hash(data: bytes) -> str:
    """Hex SHA-256 of raw file bytes: the identity of an image in the catalogue."""
    return hashlib.sha256(data).hexdigest()


def read_bytes(path: str | Path, max_bytes: int | None = None, *, timeout_s: float = READ_TIMEOUT_S) -> bytes:
    """Read a regular file whole; anything else is refused before it is opened for reading.

    FIFOs, devices, sockets, directories and symlink loops raise NotAFileError (opening a FIFO
    blocks until a writer comes; a device may never end). Files over `max_bytes` are refused from
    their size, and a read still going after `timeout_s` raises ReadTimeoutError.
    """
    path = Path(path)
    name = str(path)
    limit = int(max_bytes if max_bytes is not None else settings.get("max_image_bytes"))
    info = regular_file_stat(path)
    if info.st_size > limit:
        raise ImageTooLargeError(f"file is {info.st_size:,} bytes, over the {limit:,}-byte cap", name)
    # O_NONBLOCK: should the path have been swapped for a FIFO since the stat, open returns at once.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    with os.fdopen(fd, "rb", buffering=0) as fh:
        _require_regular_file(os.fstat(fd), name)
        return _read_capped(fh, limit, timeout_s, name)


def regular_file_stat(path: str | Path) -> os.stat_result:
    """`stat` of a regular file (symlinks followed) without opening it; NotAFileError for anything else.

    Other failures (missing file, no permission) stay OSErrors.
    """
    try:
        info = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotAFileError(f"a symbolic link loop, {_ONLY_FILES}", str(path)) from exc
        raise
    except ValueError as exc:  # "embedded null byte": no file can have that name
        raise NotAFileError(f"a path with a NUL character, {_ONLY_FILES}", str(path)) from exc
    _require_regular_file(info, str(path))
    return info


def _require_regular_file(info: os.stat_result, name: str) -> None:
    if not stat.S_ISREG(info.st_mode):
        kind = next((k for test, k in _NOT_FILE_KINDS if test(info.st_mode)), "special file")
        raise NotAFileError(f"{kind}, {_ONLY_FILES}", name)


def _read_capped(fh: BinaryIO, limit: int, timeout_s: float, name: str) -> bytes:
    """Read in chunks, refusing a file that grows past `limit` or is still arriving after `timeout_s`."""
    chunks: list[bytes] = []
    total = 0
    deadline = time.monotonic() + timeout_s
    while chunk := fh.read(min(_READ_CHUNK, limit + 1 - total)):
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise ImageTooLargeError(f"file grew past the {limit:,}-byte cap while being read", name)
        if time.monotonic() > deadline:
            raise ReadTimeoutError(f"still reading after {timeout_s:g} s ({total:,} bytes so far)", name)
    return b"".join(chunks)


def load_image(
    source: ImageSource,
    *,
    draft_size: int | None = None,
    max_pixels: int | None = None,
) -> LoadedImage:
    """Decode `source` into an upright RGB image.

    draft_size: for JPEGs, let libjpeg decode at a reduced scale whose shorter side is still
    >= draft_size (DCT scaling: a 12 MP photo decodes ~10x faster). None decodes at full size.
    A PIL image that is already upright RGB is returned as it is, not copied.
    """
    if isinstance(source, Image.Image):
        return _from_pil(source, None, None, max_pixels)
    name = None
    if isinstance(source, (str, Path)):
        name = str(source)
        try:
            data = read_bytes(source)
        except ImageError:
            raise
        except OSError as exc:
            raise NotAnImageError(f"cannot read file: {exc.strerror or exc}", name) from exc
    else:
        data = bytes(source)
    if not data:
        raise EmptyFileError("file is empty (0 bytes)", name)
    digest = content_hash(data)
    limit = int(max_pixels if max_pixels is not None else settings.get("max_image_pixels"))
    with warnings.catch_warnings():
        # Pillow's own bomb check warns between 1x and 2x its limit; ours runs first and is stricter.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
        except UnidentifiedImageError as exc:
            raise NotAnImageError("not an image Pillow can identify", name) from exc
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageTooLargeError(str(exc), name) from exc
        except Exception as exc:  # Pillow raises assorted errors on mangled headers
            raise CorruptImageError(f"unreadable image header: {exc}", name) from exc
        width, height = img.size
        if width * height > limit:
            raise ImageTooLargeError(
                f"{width}x{height} = {width * height:,} pixels, over the {limit:,}-pixel cap", name
            )
        if width == 0 or height == 0:
            raise CorruptImageError(f"image has no pixels ({width}x{height})", name)
        if width < MIN_SIDE or height < MIN_SIDE:
            raise ImageTooSmallError(f"{width}x{height} pixels, under the {MIN_SIDE}x{MIN_SIDE} minimum", name)
        fmt = img.format
        notes: list[str] = []
        if getattr(img, "n_frames", 1) > 1:
            notes.append(f"animated ({img.n_frames} frames): first frame used")
            img.seek(0)
        if draft_size and fmt == "JPEG" and img.mode in ("RGB", "L", "YCbCr"):
            img.draft(img.mode if img.mode == "L" else "RGB", (draft_size, draft_size))
        try:
            img.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageTooLargeError(str(exc), name) from exc
        except Exception as exc:  # OSError("image file is truncated"), SyntaxError, ValueError...
            raise CorruptImageError(f"cannot decode {fmt or 'image'}: {exc}", name) from exc
        loaded = _from_pil(img, digest, fmt, limit, notes, name)
    loaded.width, loaded.height = width, height
    loaded.captured_at = capture_time(img)
    return loaded


def capture_time(img: Image.Image) -> float | None:
    """When the photo was taken, from EXIF (DateTimeOriginal, else DateTime; sub-seconds when
    given), in seconds on the camera's clock read as UTC; None without a readable date. Only the
    differences matter: they tell burst shots apart (training/groups.py)."""
    try:
        exif = img.getexif()
        taken = exif.get_ifd(ExifTags.IFD.Exif)
        stamp = taken.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime)
        if not stamp:
            return None
        when = datetime.strptime(str(stamp).strip("\x00 "), "%Y:%m:%d %H:%M:%S").replace(tzinfo=timezone.utc)
        fraction = str(taken.get(ExifTags.Base.SubsecTimeOriginal) or "").strip("\x00 ")
        return when.timestamp() + (float(f"0.{fraction}") if fraction.isdigit() else 0.0)
    except (ValueError, TypeError, OSError, SyntaxError, KeyError):  # a damaged EXIF block: no time
        return None


def _from_pil(
    img: Image.Image,
    digest: str | None,
    fmt: str | None,
    max_pixels: int | None,
    notes: list[str] | None = None,
    name: str | None = None,
) -> LoadedImage:
    notes = notes if notes is not None else []
    if max_pixels is not None and img.width * img.height > max_pixels:
        raise ImageTooLargeError(f"{img.width}x{img.height} pixels, over the cap", name)
    upright = _upright(img, notes)
    rgb = to_rgb(upright, notes)
    return LoadedImage(rgb, digest, img.width, img.height, fmt, notes)


def _upright(img: Image.Image, notes: list[str]) -> Image.Image:
    """Apply the EXIF orientation when it rotates or flips; note it only then.

    Pillow's exif_transpose returns a copy even for orientation 1 (or none), so the tag is read first.
    """
    try:
        orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
        if orientation not in range(2, 9):
            return img
        upright = ImageOps.exif_transpose(img)
    except Exception:  # a damaged EXIF block should not cost us the picture
        notes.append("unreadable EXIF orientation ignored")
        return img
    notes.append("EXIF orientation applied")
    return upright


def to_rgb(img: Image.Image, notes: list[str] | None = None) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB. Transparency is flattened onto white, like a catalogue page."""
    notes = notes if notes is not None else []
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        if mode == "F":
            lo, hi = float(arr.min()), float(arr.max())
            arr, top = arr - lo, max(hi - lo, 1e-12)
        eight = np.clip(arr * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
        notes.append(f"{mode} ({'high bit depth' if top > 255 else 'integer'}) scaled to 8-bit")
        return Image.fromarray(eight, "L").convert("RGB")
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        mode = img.mode
        notes.append("palette image converted")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, _WHITE)
        background.paste(rgba, mask=rgba.getchannel("A"))
        notes.append("alpha flattened onto white")
        return background
    if mode == "CMYK":
        notes.append("CMYK converted to RGB")
    return img.convert("RGB")


def is_image_path(path: str | Path) -> bool:
    """Whether a folder walk should treat this file as an image candidate (by its ending)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES
