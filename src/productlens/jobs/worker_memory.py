"""Keep a long-lived embedding worker's malloc fast and its memory flat (glibc only; a no-op elsewhere).

Set from inside the worker, because a Dask or Ray worker's environment is not ours to set:
- Dask's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536, and setting that turns off
  glibc's sliding mmap threshold: every decoded photo and batch (0.1-20 MB) is then mmapped and
  unmapped afresh, page faults and all, about 15% more CPU per image (measured, one process
  embedding 1,000 photos: 2.0 vs 2.3 s a partition). The thresholds are set so photos reuse heap
  memory again.
- glibc gives each new thread that allocates an arena of its own (up to 8 per core), and every
  partition starts fresh decoding threads; two arenas are plenty for them.
- After a partition, its free heap pages are handed back (malloc_trim), so that what one
  partition freed does not sit in the worker's RSS.
Measured in benchmarks/bench_scale_ingest.py (its memory part).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import resource
from functools import cache

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # glibc's mallopt parameters (malloc.h)
ARENAS = 2  # the partition thread + decode threads share two arenas: little lock contention on 2 cores
# a decoded photo (~1 MB) is reused from the heap, a batch (~20 MB) is mapped and unmapped: at
# glibc's 32 MB ceiling the batches stayed in the heap and a worker's peak crept up partition by
# partition (631 -> 701 MB over six partitions), at 4 MB it stays level after the second
MMAP_THRESHOLD = 4 * 1024 * 1024
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD  # the ratio glibc's sliding keeps


@cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        return libc if libc is not None and hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:
        return None


@cache
def tune_malloc() -> bool:
    """Set this process's malloc as above (once per process); False where the C library is not glibc."""
    libc = _glibc()
    if libc is None:
        return False
    return all([libc.mallopt(M_ARENA_MAX, ARENAS), libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD),
                libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)])


def release_free_memory() -> bool:
    """Return the heap's free pages to the system (glibc's malloc_trim); False if none or not glibc."""
    libc = _glibc()
    return bool(libc is not None and libc.malloc_trim(0))


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
