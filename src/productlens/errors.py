"""The productlens exception tree.

    ProductLensError                  400 bad-request (anything not declared below)
    ├── InputError                    what was given cannot be used as asked: the caller fixes it
    │   ├── ImageError                422 <reason>: an input file could not be used as an image
    │   │   ├── EmptyFileError        zero bytes
    │   │   ├── NotAnImageError       not a format Pillow can identify
    │   │   ├── CorruptImageError     identified, but decoding failed (truncated, damaged)
    │   │   ├── ImageTooLargeError    413: over the pixel cap (decompression bomb guard)
    │   │   ├── NotAFileError         a FIFO, device, socket, directory or symlink loop: never opened
    │   │   └── ReadTimeoutError      the file was still being read after the time cap
    │   ├── FilterSyntaxError         400 bad-filter: a --where that does not parse or names an unknown field
    │   ├── TextQueryError            a text query with nothing searchable in it (empty, only punctuation)
    │   ├── IngestError               an ingest source (folder / CSV / JSONL) is malformed
    │   └── ExportError               an export cannot be written as asked (folder not empty, ...)
    ├── CatalogError                  500: the catalogue store itself
    │   ├── CatalogNotFoundError      no catalogue at that path
    │   ├── CatalogExistsError        refusing to create over an existing catalogue
    │   ├── ProductNotFoundError      404 product-not-found: no product with that id
    │   ├── ModelMismatchError        the catalogue was embedded with another model or dimension
    │   ├── NothingEmbeddedError      409 nothing-embedded: no vectors yet; add photos first
    │   ├── StaleCalibrationError     400: a value was fitted on another model version than the active one
    │   ├── StorageError              500 storage: the OS or SQLite refused a catalogue file (read-only,
    │   │   │                         disk full, permissions, damaged database): names the file, what to do
    │   │   └── StorageBusyError      503 busy: SQLite's lock stayed taken past its wait (retryable)
    │   ├── CatalogBusyError          503 busy: another writer held the write lock past the wait (retryable)
    │   └── ModelChangedError         503 model-changed: the active version changed during a query (retryable)
    ├── RetryableError                503: the same call may well succeed when made again a little later
    │   ├── CatalogBusyError          (also a CatalogError; Retry-After: 5)
    │   ├── StorageBusyError          (also a StorageError; Retry-After: 5)
    │   ├── ModelChangedError         (also a CatalogError; Retry-After: 1)
    │   └── TimeBudgetError           504 timeout: a request ran past its time budget
    ├── ModelError                    500: embedder registry, export, inference
    │   └── UnknownModelError         no embedder registered under that name
    ├── VectorIndexError              500: vector index backend
    │   └── DimensionMismatchError    vectors of the wrong width for this index
    └── TrainingError                 400: training, model versions or evaluation cannot proceed
        └── ActivationRefusedError    a version is not shown to beat the active one (--force overrides)

Catch `RetryableError` to retry (after `retry_after` seconds when it says), `InputError` for what
the caller must fix. Every error carries a human message; the CLI prints it and exits non-zero.

Each class declares how the REST API answers it (api/errors.py reads nothing else): `http_status`,
`code` (the JSON error code; None: the class's own name, for our failures that the client cannot
act on) and `retry_after` (seconds, sent as the Retry-After header). A subclass inherits them.
"""

from __future__ import annotations

import errno
from typing import ClassVar


class ProductLensError(Exception):
    """Base class of every error productlens raises on purpose."""

    http_status: ClassVar[int] = 400
    code: ClassVar[str | None] = "bad-request"
    retry_after: ClassVar[int | None] = None

    @classmethod
    def error_code(cls) -> str:
        """The machine-readable code the API sends: `code`, or the class name when it is None."""
        return cls.code or cls.__name__


class InputError(ProductLensError):
    """What was given (a file, a filter, a query box, a text query, an ingest source, an export
    target) cannot be used as asked; the message says what to change."""


class RetryableError(ProductLensError):
    """The same call may well succeed when made again a little later (another writer finishes, a
    model switch completes, the server has less to do); `retry_after` says how long to wait."""

    http_status = 503
    code = "unavailable"


class ImageError(InputError):
    """An input could not be used as an image; `reason` is a short machine-readable tag (also
    the API's error code, and the skip reason an ingest report gives)."""

    http_status = 422
    reason: ClassVar[str] = "bad-image"
    code = reason

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.code = cls.reason  # one tag: a subclass declares only its reason

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

    http_status = 413
    reason = "too-large"


class NotAFileError(ImageError):
    """Not a regular file (FIFO, device, socket, directory, symlink loop): refused before opening.

    Opening a FIFO for reading blocks until a writer comes, and a device may never end.
    """

    reason = "not-a-file"


class ReadTimeoutError(ImageError):
    """The file was still being read after the time cap (a stalled network mount, say)."""

    reason = "read-timeout"


class FilterSyntaxError(InputError):
    """A filter expression could not be parsed or names an unknown field."""

    code = "bad-filter"


class TextQueryError(InputError):
    """A text query with nothing searchable in it (empty, or only punctuation)."""


class IngestError(InputError):
    """An ingest source is malformed (missing columns, unreadable CSV, ...)."""


class ExportError(InputError):
    """An export cannot be written as asked (the folder is not empty, an attribute named like a column)."""


class CatalogError(ProductLensError):
    """A problem with the catalogue store."""

    http_status = 500
    code = None


class CatalogNotFoundError(CatalogError):
    """No catalogue at that path."""


class CatalogExistsError(CatalogError):
    """Refusing to create a catalogue over an existing one."""


class ProductNotFoundError(CatalogError):
    """No product with that id."""

    http_status, code = 404, "product-not-found"


class ModelMismatchError(CatalogError):
    """The catalogue was embedded with another model, precision or dimension."""


class NothingEmbeddedError(CatalogError):
    """The catalogue holds no vectors for its active model yet (no photos added, or all removed):
    searching, calibrating, evaluating or rebuilding the index needs some first."""

    http_status, code = 409, "nothing-embedded"
    MESSAGE = ("nothing is embedded yet: add product photos first "
               "(`productlens add PHOTOS`, or Catalog.add), then run this again")

    def __init__(self, message: str = MESSAGE) -> None:
        super().__init__(message)


class StaleCalibrationError(CatalogError):
    """A threshold or weight was fitted on another model version's vectors: refit it for the
    active version (the message says how) rather than read it on another scale."""

    http_status, code = 400, "bad-request"


class StorageError(CatalogError):
    """The operating system or SQLite refused to read or write a catalogue file.

    Read-only files or directories, a full disk, missing permissions, a damaged database: the
    message names the file and what to do; nothing was half-written.
    """

    code = "storage"
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
        """`cannot <doing> <path>: <what>; <what to do>` for a failure `kind` (None: `detail` says it);
        a file locked by another process gives a StorageBusyError (retryable)."""
        what, advice = cls.KINDS.get(kind or "", (detail, "check the file and its folder"))
        if kind == "damaged":
            what = f"{what} ({detail})"
        error = StorageBusyError if kind == "busy" else cls
        return error(f"cannot {doing} {path}: {what}; {advice}")

    @classmethod
    def from_os_error(cls, exc: OSError, path: object, doing: str) -> "StorageError":
        """The StorageError of an OSError met while doing something with `path` (its own filename first)."""
        return cls.about(exc.filename or path, doing, cls.ERRNO_KINDS.get(exc.errno or 0), exc.strerror or str(exc))


class StorageBusyError(StorageError, RetryableError):
    """SQLite's own lock on a catalogue file stayed taken past its wait (another process was
    writing); the same call will work once that process is done."""

    http_status, code, retry_after = 503, "busy", 5


class CatalogBusyError(CatalogError, RetryableError):
    """Another writer (a `models use`, a long `add`) held the write lock past the wait; retry later."""

    http_status, code, retry_after = 503, "busy", 5


class ModelChangedError(CatalogError, RetryableError):
    """Another process switched the active model version while a query was being answered; retry."""

    http_status, code, retry_after = 503, "model-changed", 1


class TimeBudgetError(RetryableError):
    """A request ran past its time budget and was stopped (the server answers 504)."""

    http_status, code = 504, "timeout"


class ModelError(ProductLensError):
    """Embedder registry, export or inference failed."""

    http_status = 500
    code = None


class UnknownModelError(ModelError):
    """No embedder registered under that name."""


class VectorIndexError(ProductLensError):
    """A vector index backend failed."""

    http_status = 500
    code = None


class DimensionMismatchError(VectorIndexError):
    """Vectors of the wrong width for this index."""


class TrainingError(ProductLensError):
    """Training, a model version or an evaluation cannot proceed (too few labels, unknown version...)."""


class ActivationRefusedError(TrainingError):
    """A model version was not activated: it is not shown to beat the active one on the same
    validation photos; `comparison` holds the figures. `--force` (force=True) activates anyway."""

    def __init__(self, message: str, comparison: dict | None = None) -> None:
        super().__init__(message)
        self.comparison = comparison
