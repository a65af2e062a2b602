"""The productlens exception tree.

    ProductLensError
    ├── ImageError                 an input file could not be used as an image
    │   ├── EmptyFileError         zero bytes
    │   ├── NotAnImageError        not a format Pillow can identify
    │   ├── CorruptImageError      identified, but decoding failed (truncated, damaged)
    │   ├── ImageTooLargeError     over the pixel cap (decompression bomb guard)
    │   ├── NotAFileError          a FIFO, device, socket, directory or symlink loop: never opened
    │   └── ReadTimeoutError       the file was still being read after the time cap
    ├── CatalogError               the catalogue store itself
    │   ├── CatalogNotFoundError   no catalogue at that path
    │   ├── CatalogExistsError     refusing to create over an existing catalogue
    │   ├── ProductNotFoundError   no product with that id
    │   ├── ModelMismatchError     the catalogue was embedded with another model or dimension
    │   ├── StorageError           the OS or SQLite refused a catalogue file (read-only, disk full,
    │   │                          permissions, damaged database): names the file and what to do
    │   ├── CatalogBusyError       another writer held the write lock past the wait (retryable)
    │   └── ModelChangedError      the active model version changed during a query (retryable)
    ├── ModelError                 embedder registry, export, inference
    │   ├── UnknownModelError      no embedder registered under that name
    │   └── DetectorError          the product detector's file is missing, corrupt or unknown
    ├── VectorIndexError           vector index backend
    │   └── DimensionMismatchError vectors of the wrong width for this index
    ├── FilterSyntaxError          a --where expression that does not parse or names an unknown field
    ├── TextQueryError             a text query with nothing searchable in it (empty, only punctuation)
    ├── TimeBudgetError            a request ran past its time budget (the server answers 504)
    ├── IngestError                an ingest source (folder / CSV / JSONL) is malformed
    │   └── AnnotationError        a box annotation file (COCO / VOC / boxes.json) is malformed:
    │                              names the file and line
    ├── ExportError                an export cannot be written as asked (folder not empty, ...)
    ├── StaleCalibrationError      a value was fitted on another model version than the active one
    └── TrainingError              training, model versions or evaluation cannot proceed
        └── ActivationRefusedError a version is not shown to beat the active one (--force overrides)

Every error carries a human message; the CLI prints it and exits non-zero.
"""

from __future__ import annotations

import errno


class ProductLensError(Exception):
    """Base class of every error productlens raises on purpose."""


class ImageError(ProductLensError):
    """An input could not be used as an image; `reason` is a short machine-readable tag."""

    reason = "bad-image"

    def __init__(self, message: str, source: str | None = None) -> None:
        super().__init__(message)
        self.source = source


class EmptyFileError(ImageError):
    """The file has zero bytes."""

    reason = "empty-file"


class NotAnImageError(ImageError):
    """Not a format Pillow can identify (or not readable at all)."""

    reason = "not-an-image"


class CorruptImageError(ImageError):
    """Identified as an image, but decoding failed (truncated or damaged)."""

    reason = "corrupt"


class ImageTooLargeError(ImageError):
    """Over the pixel or byte cap: refused before decoding (decompression-bomb guard)."""

    reason = "too-large"


class NotAFileError(ImageError):
    """Not a regular file (FIFO, device, socket, directory, symlink loop): refused before opening.

    Opening a FIFO for reading blocks until a writer comes, and a device may never end.
    """

    reason = "not-a-file"


class ReadTimeoutError(ImageError):
    """The file was still being read after the time cap (a stalled network mount, say)."""

    reason = "read-timeout"


class CatalogError(ProductLensError):
    """A problem with the catalogue store."""


class CatalogNotFoundError(CatalogError):
    """No catalogue at that path."""


class CatalogExistsError(CatalogError):
    """Refusing to create a catalogue over an existing one."""


class ProductNotFoundError(CatalogError):
    """No product with that id."""


class ModelMismatchError(CatalogError):
    """The catalogue was embedded with another model, precision or dimension."""


class StorageError(CatalogError):
    """The operating system or SQLite refused to read or write a catalogue file.

    Read-only files or directories, a full disk, missing permissions, a damaged database: the
    message names the file and what to do; nothing was half-written.
    """

    # failure kind -> (what happened, what to do)
    KINDS = {
        "read-only": ("it is read-only", "give your user write access to it and its folder (or run only read commands)"),
        "full": ("the disk is full", "free some disk space and run the command again (nothing was half-written)"),
        "permission": ("permission denied", "give your user access to it (check the owner and mode of it and its folder)"),
        "damaged": ("it is damaged", "restore it from a backup (PRAGMA integrity_check shows what is damaged)"),
        "busy": ("it is locked by another process", "run the command again when that one is done"),
    }
    ERRNO_KINDS = {errno.EROFS: "read-only", errno.ENOSPC: "full", errno.EDQUOT: "full", errno.EACCES: "permission",
                   errno.EPERM: "permission"}

    @classmethod
    def about(cls, path: object, doing: str, kind: str | None, detail: str) -> "StorageError":
        """`cannot <doing> <path>: <what>; <what to do>` for a failure `kind` (None: `detail` says it)."""
        what, advice = cls.KINDS.get(kind or "", (detail, "check the file and its folder"))
        if kind == "damaged":
            what = f"{what} ({detail})"
        return cls(f"cannot {doing} {path}: {what}; {advice}")

    @classmethod
    def from_os_error(cls, exc: OSError, path: object, doing: str) -> "StorageError":
        """The StorageError of an OSError met while doing something with `path` (its own filename first)."""
        return cls.about(exc.filename or path, doing, cls.ERRNO_KINDS.get(exc.errno or 0), exc.strerror or str(exc))


class CatalogBusyError(CatalogError):
    """Another writer (a `models use`, a long `add`) held the write lock past the wait; retry later."""


class ModelChangedError(CatalogError):
    """Another process switched the active model version while a query was being answered; retry."""


class ModelError(ProductLensError):
    """Embedder registry, export or inference failed."""


class UnknownModelError(ModelError):
    """No embedder registered under that name."""


class DetectorError(ModelError):
    """The product detector cannot run: its file is missing or corrupt, or no detector has that
    name. Whole-photo search does not need it and is unaffected."""


class VectorIndexError(ProductLensError):
    """A vector index backend failed."""


class DimensionMismatchError(VectorIndexError):
    """Vectors of the wrong width for this index."""


class FilterSyntaxError(ProductLensError):
    """A filter expression could not be parsed or names an unknown field."""


class TextQueryError(ProductLensError):
    """A text query with nothing searchable in it (empty, or only punctuation)."""


class TimeBudgetError(ProductLensError):
    """A request ran past its time budget and was stopped (the server answers 504)."""


class IngestError(ProductLensError):
    """An ingest source is malformed (missing columns, unreadable CSV, ...)."""


class AnnotationError(IngestError):
    """A box annotation file (COCO JSON, Pascal VOC XML, boxes.json) is malformed; the message
    names the file and the line."""


class ExportError(ProductLensError):
    """An export cannot be written as asked (the folder is not empty, an attribute named like a column)."""


class TrainingError(ProductLensError):
    """Training, a model version or an evaluation cannot proceed (too few labels, unknown version...)."""


class StaleCalibrationError(ProductLensError):
    """A threshold or weight was fitted on another model version's vectors: refit it for the
    active version (the message says how) rather than read it on another scale."""


class ActivationRefusedError(TrainingError):
    """A model version was not activated: it is not shown to beat the active one on the same
    validation photos; `comparison` holds the figures. `--force` (force=True) activates anyway."""

    def __init__(self, message: str, comparison: dict | None = None) -> None:
        super().__init__(message)
        self.comparison = comparison
