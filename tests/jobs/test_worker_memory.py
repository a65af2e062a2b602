"""A worker's malloc: thresholds and arenas set on glibc, free heap pages handed back between partitions."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from productlens.jobs.worker_memory import peak_rss_mb, release_free_memory, tune_malloc

pytestmark = [pytest.mark.fast,
              pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc tuning is glibc's")]


def rss_mb() -> float:
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return int(status["VmRSS"].split()[0]) / 1024


def test_malloc_is_tuned_on_glibc():
    assert tune_malloc() is True
    assert tune_malloc() is True  # once per process; asking again is harmless


def test_free_heap_pages_go_back_to_the_system():
    # 160 MB of 2 KB blocks (malloc's heap, not pymalloc's), then all but one in 64 freed: the
    # survivors pin the heap's top, so only malloc_trim can return the holes between them
    blocks = [bytearray(2048) for _ in range(80_000)]
    kept = blocks[::64]
    del blocks
    before = rss_mb()
    assert release_free_memory() is True
    assert before - rss_mb() > 80
    assert peak_rss_mb() > rss_mb() + 50  # the peak remembers the heap before it was trimmed
    assert len(kept) == 1250


FAULTS = """
import resource, sys
from productlens.jobs.worker_memory import tune_malloc
if sys.argv[1] == "tuned":
    tune_malloc()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):
    block = bytearray(1 << 20)  # a decoded photo's size; zero-filled, so every page is touched
    del block
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.parametrize("tuned", ["tuned", "as-started"])
def test_a_dask_workers_trim_setting_no_longer_maps_every_photo_afresh(tuned):
    """Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536: each 1 MB block is then a fresh mmap
    (256 page faults); tuned, the heap's pages are reused."""
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536", "PYTHONPATH": os.pathsep.join(sys.path)}
    faults = int(subprocess.run([sys.executable, "-c", FAULTS, tuned], env=env, capture_output=True, text=True,
                                check=True).stdout)
    if tuned == "tuned":
        assert faults < 2000
    else:
        assert faults > 200 * 200
