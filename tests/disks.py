"""A real small disk for the fault tests: a tmpfs of a few MB (mounting needs root: skipped
otherwise), and a filler file that leaves a chosen number of bytes free."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

DISK = "8m"


@contextmanager
def mounted_tmpfs(mount: Path, size: str = DISK) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk, leave: int):
    """A filler file that leaves about `leave` bytes free on `disk`."""
    filler = disk / "filler"
    free = shutil.disk_usage(disk).free
    with open(filler, "ab") as fh:
        chunk = b"\0" * 65_536
        need = max(0, free - leave)
        while need > 0:
            try:
                fh.write(chunk[: min(len(chunk), need)])
                fh.flush()
            except OSError:
                break
            need -= min(len(chunk), need)
    return filler
