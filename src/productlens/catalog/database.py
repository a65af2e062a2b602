"""Opening a catalogue's SQLite file, and SQLite's and the OS's failures as one-line StorageErrors.

A catalogue in a folder the user cannot write (a read-only mount, a shared copy), or on a full
disk, is still searchable: it is opened read-only, without the `journal_mode=WAL` switch (a write), and as
`immutable` when no WAL file is there to read. Every failure the store meets (read-only file,
full disk, missing permission, damaged file, a lock held too long) becomes a StorageError that
names the file and says what to do; the write it interrupted was rolled back.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..atomic import disk_full
from ..errors import StorageError

BUSY_TIMEOUT_S = 60  # how long a statement waits for another process's write transaction


def is_writable(path: Path) -> bool:
    """True when this process may change `path` and create files beside it (SQLite's -wal, -shm)."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def connect(path: Path, *, create: bool = False) -> tuple[sqlite3.Connection, bool]:
    """(connection, read_only) for the catalogue database at `path`, in autocommit mode.

    Writable: WAL journal (readers never wait for the writer). Otherwise (or when the disk is too
    full for SQLite to make its -shm file) read-only: through the existing WAL files if both are
    there and the WAL holds something, else as an immutable file (SQLite then reads the main
    file alone, which holds everything once the last writer closed cleanly).
    """
    if not create and not path.exists():
        raise StorageError(f"cannot open {path}: no such file")
    read_only = not create and not is_writable(path)
    if not read_only:
        try:
            with storage_errors(path, "open"):
                db = _open(f"file:{path}?mode={'rwc' if create else 'rw'}")
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("PRAGMA foreign_keys=ON")
            return db, False
        except StorageError:
            # at 0 bytes free SQLite cannot even make its -shm file: reads still work, read-only
            if create or not disk_full(path.parent):
                raise
    wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
    # an empty WAL holds nothing the main file lacks (a full disk's failed open leaves one behind)
    wal_files = shm.exists() and wal.exists() and wal.stat().st_size > 0
    with storage_errors(path, "open"):
        db = _open(f"file:{path}?mode=ro" + ("" if wal_files else "&immutable=1"))
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # fail here, not on the first query
    return db, True


def _open(uri: str) -> sqlite3.Connection:
    return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_S, check_same_thread=False)


@contextmanager
def storage_errors(path: Path, doing: str) -> Iterator[None]:
    """Turn sqlite3 and OS errors raised inside into a StorageError naming `path` (`doing`: "read", "write", ...)."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        raise as_storage_error(exc, path, doing) from exc


def as_storage_error(exc: sqlite3.Error | OSError, path: Path, doing: str) -> StorageError:
    """The StorageError that explains a sqlite3 or OS error met while `doing` something with `path`."""
    if isinstance(exc, OSError):
        return StorageError.from_os_error(exc, path, doing)
    kind = sqlite_failure_kind(exc) or ("full" if disk_full(path.parent) else None)
    return StorageError.about(path, doing, kind, str(exc))


def sqlite_failure_kind(exc: sqlite3.Error) -> str | None:
    """A StorageError.KINDS key for a SQLite error, or None when it is none of them."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc).lower()
    if name.startswith("SQLITE_READONLY") or "readonly database" in text:
        return "read-only"
    if name.startswith("SQLITE_FULL") or "disk is full" in text:
        return "full"
    if name.startswith(("SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")) or "unable to open" in text:
        return "permission"
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text or "not a database" in text:
        return "damaged"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in text:
        return "busy"
    return None
