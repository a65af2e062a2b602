"""Opening and creating a catalogue's store, its write lock, and when to save its index file."""

from __future__ import annotations

import fcntl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .. import settings
from ..catalog.store import CatalogStore
from ..errors import (
    CatalogError,
    CatalogExistsError,
    CatalogNotFoundError,
    ModelMismatchError,
    ProductLensError,
    UnknownModelError,
)
from ..index import canonical_kind
from ..index.live import LiveIndex
from ..models import list_embedders

DB_NAME = "catalog.db"
DEFAULT_INDEX = "faiss-flat"
SMALL_WRITE_SAVE_S = 30.0  # single-image writes save the index file at most this often


def create_store(path: Path, *, model: str | None, precision: str, index: str) -> CatalogStore:
    """A new, empty catalogue at `path` (refuses to overwrite an existing one)."""
    model = model or str(settings.get("model"))
    if (path / DB_NAME).exists():
        raise CatalogExistsError(f"a catalogue already exists at {path}")
    if model not in list_embedders():
        raise UnknownModelError(f"unknown model {model!r}; known: {', '.join(list_embedders())}")
    if precision not in ("fp32", "int8"):
        raise ProductLensError(f"precision must be fp32 or int8, not {precision!r}")
    kind = canonical_kind(index)
    path.mkdir(parents=True, exist_ok=True)
    store = CatalogStore(path / DB_NAME, create=True)
    store.set_meta({"model_name": model, "model_precision": precision, "index_kind": kind})
    return store


def open_store(path: Path, *, model: str | None, precision: str | None, index: str | None) -> CatalogStore:
    """The store of the catalogue at `path`, checked against the model, precision and index kind
    the caller expects (None: whatever it has)."""
    if not (path / DB_NAME).exists():
        raise CatalogNotFoundError(f"no catalogue at {path} (create one with: productlens --catalog {path} add PHOTOS)")
    store = CatalogStore(path / DB_NAME)
    have_model, have_precision = str(store.get_meta("model_name")), str(store.get_meta("model_precision", "fp32"))
    have_index = str(store.get_meta("index_kind", DEFAULT_INDEX))
    if (model and model != have_model) or (precision and precision != have_precision):
        store.close()
        raise ModelMismatchError(f"catalogue {path} is embedded with {have_model} ({have_precision}); "
                                 f"it cannot be used with {model or have_model} ({precision or have_precision})")
    if index and canonical_kind(index) != have_index:
        store.close()
        raise CatalogError(f"catalogue {path} uses the {have_index} index, not {index}; "
                           "change it with: productlens index build --kind ...")
    return store


class WriteLock:
    """One writer at a time, across threads (an RLock) and processes (flock on `.write.lock`).

    Re-entrant within a thread: only the outermost hold takes the file lock (a second flock on a
    new descriptor of the same file would wait for the first, held by this very thread)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._threads = threading.RLock()
        self._depth = 0  # holds by the thread owning `_threads`

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._threads:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(self.folder / ".write.lock", "a+") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                self._depth = 1
                try:
                    yield
                finally:
                    self._depth = 0
                    fcntl.flock(lock, fcntl.LOCK_UN)


class SaveThrottle:
    """Saves the index after a small write at most every SMALL_WRITE_SAVE_S, and on close.

    Rewriting a large index file per uploaded photo would dominate a server's write cost; the
    write is already committed in SQLite, and a stale index file is caught up from it on open.
    """

    def __init__(self, every_s: float = SMALL_WRITE_SAVE_S) -> None:
        self.every_s, self.last, self.dirty = every_s, 0.0, False

    def wrote(self, live: LiveIndex) -> None:
        now = time.monotonic()
        if now - self.last >= self.every_s:
            live.save()
            self.last, self.dirty = now, False
        else:
            self.dirty = True

    def close(self, live: LiveIndex | None) -> None:
        if self.dirty and live is not None:
            live.save()
            self.dirty = False
