"""Popularity: every user gets the items with the most (weighted) events. The baseline, and the
answer for a user with no history."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .base import Monitor, Recommender
from .log import InteractionLog
from .registry import register_recommender


class Popularity(Recommender):
    name = "popularity"

    def fit(self, log: InteractionLog, *, deadline: float | None = None, monitor: Monitor | None = None) -> None:
        self.n_items = log.n_items
        self.counts = np.bincount(log.items, weights=log.weights, minlength=log.n_items).astype(np.float32)

    def score(self, users: np.ndarray, histories: Sequence[np.ndarray]) -> np.ndarray:
        return np.broadcast_to(self.counts, (len(histories), self.n_items)).copy()


register_recommender("popularity", Popularity, description="most events first (baseline)", cost=0)
