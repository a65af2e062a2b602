"""Files written atomically, failures as StorageErrors, and the temp files a killed writer left.

Every index, parameter, metadata, reducer and exported model file is written to
`.<name>.<n>.<pid>.tmp` beside its target (n: a number unique within the process, so that two
threads writing one file, say two first requests for a thumbnail, never share a temp file),
flushed, then renamed over it: a reader sees the old file or the new one, never half of one. A failed write (a full disk) removes its temp file at once; one left by a killed process
carries that process's id, so the next writer can tell it is stale and remove it.
"""

from __future__ import annotations

import errno
import itertools
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import StorageError

NEARLY_FULL = 64 * 1024  # free bytes under which a failed write is put down to a full disk
_WRITERS = itertools.count()  # next() is atomic under the GIL: each writer its own temp name
_TEMP = re.compile(r"^\..+\.(\d+)\.tmp(\.[A-Za-z0-9]+|-wal|-shm|-journal)?$")  # SQLite adds -wal, -shm


@contextmanager
def atomic_file(path: Path, suffix: str = "", write_errors: tuple[type[Exception], ...] = ()) -> Iterator[Path]:
    """A temp path beside `path` to write to: on success it is fsynced and renamed over `path`,
    on failure removed. OS errors become a StorageError naming `path`.

    suffix: what the writer appends to the name itself (np.savez adds `.npz`).
    write_errors: what else the writer raises when a write fails (FAISS: RuntimeError).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{next(_WRITERS)}.{os.getpid()}.tmp{suffix}")
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        # why the writer failed, looked at before the temp file's space is freed
        kind = _failure_kind(path.parent) if write_errors and isinstance(exc, write_errors) else None
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise StorageError.from_os_error(exc, path, "write") from exc
        if write_errors and isinstance(exc, write_errors):
            raise StorageError.about(path, "write", kind, str(exc).splitlines()[0]) from exc
        raise


def write_text(path: Path, text: str) -> None:
    """Replace `path`'s content with `text` atomically."""
    with atomic_file(path) as tmp:
        tmp.write_text(text)


def write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically, making its folder first."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError.from_os_error(exc, path.parent, "write") from exc
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Delete temp files in `folder` whose writer is gone (killed, or crashed); returns them.

    Call it under the catalogue's write lock: the files of a live writer (another process, or
    this one) are kept.
    """
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except FileNotFoundError:
        return []
    for entry in entries:
        match = _TEMP.match(entry.name)
        if match is None or _alive(int(match.group(1))):
            continue
        entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _failure_kind(folder: Path) -> str | None:
    """Why a write into `folder` failed when the writer does not say (FAISS): a StorageError.KINDS key."""
    if disk_full(folder):
        return "full"
    return None if os.access(folder, os.W_OK) else "permission"


def disk_full(folder: Path) -> bool:
    """Whether the disk holding `folder` is (nearly) full: the likely cause of a write error that
    does not say (FAISS's, SQLite's "disk I/O error")."""
    try:
        return shutil.disk_usage(folder).free < NEARLY_FULL
    except OSError as exc:
        return exc.errno == errno.ENOSPC
