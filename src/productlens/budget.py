"""A time budget for the work one request does: the server sets it, the engine checks it.

A thread cannot be stopped from outside, so the places that can wait or loop long (waiting for
the write lock, walking every product for a filter) ask `remaining()` / `check()` and give up
with a clear error instead. The budget is a context variable: FastAPI's worker threads inherit
the one their request set, and code with no budget (the CLI) runs unbounded.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from .errors import TimeBudgetError

_deadline: ContextVar[float | None] = ContextVar("productlens_deadline", default=None)


@contextmanager
def time_budget(seconds: float | None) -> Iterator[None]:
    """Run the block with at most `seconds` left (None: no budget; an outer, tighter budget still holds)."""
    if seconds is None:
        yield
        return
    outer = _deadline.get()
    deadline = time.monotonic() + seconds
    token = _deadline.set(deadline if outer is None else min(outer, deadline))
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left in the current budget (0 when spent), or None when there is no budget."""
    deadline = _deadline.get()
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def check(doing: str) -> None:
    """Raise TimeBudgetError when the current budget is spent; `doing` says what was stopped."""
    left = remaining()
    if left is not None and left <= 0:
        raise TimeBudgetError(f"stopped {doing}: the request ran past its time budget")
