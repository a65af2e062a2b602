"""A hang guard for tests of input that used to block or backtrack (importable: tests/ is on pytest's pythonpath)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail, rather than hang, when the block runs past `seconds`.

    SIGALRM interrupts a running regex and a blocking open() of a FIFO alike; main thread only.
    """

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
