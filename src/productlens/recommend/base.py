"""What every recommender does: learn from a log, then score every item for a user's history.

Scoring from the history (not only from a user id seen at fit time) is what makes fold-in work:
a user's events added after the fit change their recommendations without a refit.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from .log import InteractionLog

# Scores a fitted model on validation data, higher is better: lets a model stop early on it.
Monitor = Callable[["Recommender"], float]


class Recommender(ABC):
    """A fitted model scores all `n_items` items for each (user code, history) pair."""

    name: str = ""

    def __init__(self, **params: Any) -> None:
        self.params: dict[str, Any] = dict(params)
        self.n_items = 0

    @abstractmethod
    def fit(self, log: InteractionLog, *, deadline: float | None = None, monitor: Monitor | None = None) -> None:
        """Learn from `log`; stop by `deadline` (time.monotonic()) at the latest."""

    @abstractmethod
    def score(self, users: np.ndarray, histories: Sequence[np.ndarray]) -> np.ndarray:
        """A (len(histories), n_items) float32 matrix; users[i] is -1 for a user unknown at fit."""

    def score_candidates(self, users: np.ndarray, histories: Sequence[np.ndarray],
                         candidates: np.ndarray) -> np.ndarray:
        """Scores of candidates[i, j] for history i (models that can, override it more cheaply)."""
        return np.take_along_axis(self.score(users, histories), candidates, axis=1)

    def item_vectors(self) -> np.ndarray | None:
        """(n_items, f) item factors when the model scores by user . item (the cold start maps photos
        to them), else None."""
        return None

    def user_vectors(self, users: np.ndarray, histories: Sequence[np.ndarray]) -> np.ndarray:
        """(n, f) vectors whose dot product with item_vectors() gives score()."""
        raise NotImplementedError(f"{self.name} has no user vectors")

    def catch_up(self, log: InteractionLog, *, deadline: float | None = None) -> bool:
        """Learn a little more from `log` (the fit's events plus newer ones) without starting over;
        False when the model cannot (then only a refit learns from the newer events)."""
        return False

    def refit_params(self) -> dict[str, Any]:
        """Parameters that refit the same model on more data without a validation monitor."""
        return dict(self.params)

    def describe(self) -> dict[str, Any]:
        """The name and parameters, saved with a fitted version."""
        return {"model": self.name, **self.params}


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with BLAS on one thread: scoring one user is a small product, and a BLAS
    thread pool waiting on a busy CPU made it 100x slower here (24 ms -> 0.25 ms for ALS on Video)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # threadpoolctl comes with implicit (the `recommend` extra)
        yield
        return
    with threadpool_limits(1, "blas"):
        yield


def time_left(deadline: float | None) -> float:
    """Seconds until `deadline` (inf when there is none)."""
    return float("inf") if deadline is None else deadline - time.monotonic()


def recency_weights(length: int, decay: float) -> np.ndarray:
    """Weights of a history's events, the latest 1 and each earlier one `decay` times the next."""
    return (decay ** np.arange(length - 1, -1, -1)).astype(np.float32)
