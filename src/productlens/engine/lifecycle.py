"""Opening and creating a catalogue's store, its write lock, and when to save its index file (IndexSaves)."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from .. import meta_keys
from .. import budget, settings
from ..atomic import disk_full, remove_stale_temp_files
from ..catalog.database import storage_errors
from ..catalog.media import MediaStore
from ..catalog.store import CatalogStore
from ..errors import (
    CatalogBusyError,
    CatalogError,
    CatalogExistsError,
    CatalogNotFoundError,
    ModelMismatchError,
    ProductLensError,
    StorageError,
    UnknownModelError,
)
from ..index import canonical_kind
from ..index.live import LiveIndex
from ..models import list_embedders

log = logging.getLogger(__name__)

DB_NAME = "catalog.db"
LOCK_NAME = ".write.lock"
DEFAULT_INDEX = "faiss-flat"
SMALL_WRITE_SAVE_S = 30.0  # single-image writes save the index file at most this often
BULK_SAVE_S = 60.0  # index checkpoint interval during long ingests


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
    with storage_errors(path, "create"):
        path.mkdir(parents=True, exist_ok=True)
    # Made whole under a temp name, then linked into place: a process killed half-way leaves no
    # catalogue without its model (a stale temp file, removed on the next open), and of two
    # processes creating it at once, one wins and the other is told it exists.
    staging = path / f".{DB_NAME}.{os.getpid()}.tmp"
    try:
        with CatalogStore(staging, create=True) as store:
            store.set_meta({meta_keys.MODEL_NAME: model, meta_keys.MODEL_PRECISION: precision, meta_keys.INDEX_KIND: kind})
        os.link(staging, path / DB_NAME)
    except FileExistsError:
        raise CatalogExistsError(f"a catalogue already exists at {path}") from None
    except OSError as exc:
        raise StorageError.from_os_error(exc, path / DB_NAME, "create") from exc
    finally:
        for leftover in (staging, *(staging.with_name(staging.name + end) for end in ("-wal", "-shm"))):
            leftover.unlink(missing_ok=True)
    return CatalogStore(path / DB_NAME)


def open_store(path: Path, *, model: str | None, precision: str | None, index: str | None) -> CatalogStore:
    """The store of the catalogue at `path`, checked against the model, precision and index kind
    the caller expects (None: whatever it has)."""
    if not (path / DB_NAME).exists():
        raise CatalogNotFoundError(f"no catalogue at {path} (create one with: productlens --catalog {path} add PHOTOS)")
    store = CatalogStore(path / DB_NAME)
    have_model, have_precision = str(store.get_meta(meta_keys.MODEL_NAME)), str(store.get_meta(meta_keys.MODEL_PRECISION, "fp32"))
    have_index = str(store.get_meta(meta_keys.INDEX_KIND, DEFAULT_INDEX))
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

    Re-entrant within a thread. The wait for another writer is bounded by the caller's time
    budget (budget.py: a server request's) or by `wait_s`; past it, CatalogBusyError (retryable).
    Without either, it waits as long as the other writer takes (a CLI command). The lock of a
    catalogue opened read-only (`read_only`: its database file) refuses at once: StorageError.
    """

    POLL_S = 0.05

    def __init__(self, folder: Path, *, read_only: Path | None = None) -> None:
        self.folder, self.read_only = folder, read_only
        self.path = folder / LOCK_NAME
        self._threads = threading.RLock()
        self._depth = threading.local()

    @contextmanager
    def hold(self, wait_s: float | None = None) -> Iterator[None]:
        """Hold the lock for the block; `wait_s` caps the wait (None: the time budget, if any)."""
        if self.read_only is not None:
            # opened read-only for want of space (catalog/database.py): say so, not "read-only"
            why = "full" if disk_full(self.read_only.parent) else "read-only"
            raise StorageError.about(self.read_only, "write", why, "")
        if getattr(self._depth, "n", 0):  # this thread holds it already
            self._depth.n += 1
            try:
                yield
            finally:
                self._depth.n -= 1
            return
        wait = budget.remaining() if wait_s is None else wait_s
        deadline = None if wait is None else time.monotonic() + wait
        if not self._threads.acquire(timeout=-1 if wait is None else wait):
            raise self._busy()
        try:
            with storage_errors(self.path, "lock"):
                self.folder.mkdir(parents=True, exist_ok=True)
                lock = open(self.path, "a+")
            with lock:
                self._acquire(lock, deadline)
                self._depth.n = 1
                try:
                    yield
                finally:
                    self._depth.n = 0
                    fcntl.flock(lock, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _acquire(self, lock: IO[str], deadline: float | None) -> None:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            if deadline is None:
                log.info("waiting for another process writing to %s", self.folder)
                fcntl.flock(lock, fcntl.LOCK_EX)
                return
            if time.monotonic() >= deadline:
                raise self._busy()
            time.sleep(self.POLL_S)

    def _busy(self) -> CatalogBusyError:
        return CatalogBusyError(f"another writer is busy with {self.folder} (a `models use`, `index build` or long "
                                "`add`, say); try again when it is done")


class IndexSaves:
    """When the index file is saved: the one place that decides it.

    After a small write (an uploaded photo, a removal), at most every SMALL_WRITE_SAVE_S:
    rewriting a large index file per photo would dominate a server's write cost, the write is
    already committed in SQLite, and a stale index file is caught up from it on open. During a
    long ingest, every BULK_SAVE_S and at its end. After a rebuild, a switch or an import, at once.
    On close, what is unsaved, only if the write lock is free at once (a writer still busy saves
    the file itself). Every save but that one happens under the write lock.
    """

    def __init__(self, lock: WriteLock, small_write_s: float = SMALL_WRITE_SAVE_S, bulk_s: float = BULK_SAVE_S) -> None:
        self.lock, self.small_write_s, self.bulk_s = lock, small_write_s, bulk_s
        self.last, self.bulk_started, self.dirty = float("-inf"), 0.0, False  # the first small write saves

    def now(self, live: LiveIndex, meta: dict[str, str] | None = None) -> None:
        """Save at once (with `meta`, written in the same store write as the index's own records)."""
        live.save(meta)
        self.last, self.dirty = time.monotonic(), False

    def small_write(self, live: LiveIndex) -> None:
        """After a small write to `live`."""
        if time.monotonic() - self.last >= self.small_write_s:
            self.now(live)
        else:
            self.dirty = True

    def begin_bulk(self) -> None:
        self.bulk_started = time.monotonic()

    def bulk_write(self, live: LiveIndex, *, last: bool) -> None:
        """After a chunk of a long ingest; `last`: its final chunk."""
        if last or time.monotonic() - max(self.bulk_started, self.last) > self.bulk_s:
            self.now(live)

    def close(self, live: LiveIndex | None) -> None:
        if self.dirty and live is not None:
            save_if_free(self.lock, live)
            self.dirty = False


def remove_stale_files(folder: Path, lock: WriteLock, store: CatalogStore) -> None:
    """Remove the temp files a killed writer left in the catalogue's index, model and media
    folders, and the uploads it stored but never recorded, if no other writer is at work right
    now (its own files would look the same: uploads are stored under the write lock)."""
    try:
        with lock.hold(wait_s=0):
            models, media = folder / "models", MediaStore(folder)
            versions = [p for p in models.iterdir() if p.is_dir()] if models.is_dir() else []
            uploads = [p for p in media.root.iterdir() if p.is_dir()] if media.root.is_dir() else []
            for sub in (folder, folder / "index", models, *versions, *uploads):
                for path in remove_stale_temp_files(sub):
                    log.info("removed %s, left by a writer that stopped", path)
            for path in media.remove_unreferenced(lambda sha: bool(store.products_with_hash(sha))):
                log.info("removed %s, an upload a writer that stopped never recorded", path)
    except (CatalogBusyError, StorageError):
        pass


def save_if_free(lock: WriteLock, live: LiveIndex) -> bool:
    """Save `live`'s file if the write lock is free right now; False when another writer holds it
    (that writer saves the file when it is done) or the catalogue cannot be written."""
    try:
        with lock.hold(wait_s=0):
            live.save()
        return True
    except (CatalogBusyError, StorageError) as exc:
        log.info("index %s not saved now: %s", live.path.name, exc)
        return False
