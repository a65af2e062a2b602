"""Implicit-feedback matrix factorisation with the `implicit` library: ALS (Hu, Koren & Volinsky)
and BPR (Rendle et al.). A user's new events are folded in by solving for their factors against
the fixed item factors (ALS's recalculate_user), never by a refit."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .base import Monitor, Recommender
from .log import InteractionLog, history_matrix
from .registry import register_recommender

THREADS = 1  # implicit takes every core by default; spinning threads on a shared CPU cost more than they give


class _Factorization(Recommender):
    """Shared scoring: user factors (refolded from the history) times item factors."""

    def _make(self):  # -> an implicit model
        raise NotImplementedError

    def fit(self, log: InteractionLog, *, deadline: float | None = None, monitor: Monitor | None = None) -> None:
        self.n_items = log.n_items
        self.model = self._make()
        matrix = log.matrix()
        matrix.data = np.log1p(matrix.data)  # repeated events count, with diminishing returns
        self.model.fit(matrix, show_progress=False)
        self.item_factors = np.asarray(self.model.item_factors, dtype=np.float32)

    def user_factors(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """Each history's factors, solved against the fixed item factors (the fold-in)."""
        rows = history_matrix(list(histories), self.n_items)
        rows.data = np.log1p(rows.data)
        return np.asarray(self.model.recalculate_user(np.arange(len(histories)), rows), dtype=np.float32)

    def score(self, users: np.ndarray, histories: Sequence[np.ndarray]) -> np.ndarray:
        if not len(histories):
            return np.zeros((0, self.n_items), np.float32)
        return self.user_vectors(users, histories) @ self.item_factors.T

    def item_vectors(self) -> np.ndarray:
        return self.item_factors

    def user_vectors(self, users: np.ndarray, histories: Sequence[np.ndarray]) -> np.ndarray:
        return self.user_factors(histories)


class ALS(_Factorization):
    name = "als"

    def __init__(self, factors: int = 64, regularization: float = 0.1, alpha: float = 10.0, iterations: int = 15,
                 **params: object) -> None:
        super().__init__(factors=factors, regularization=regularization, alpha=alpha, iterations=iterations, **params)

    def _make(self):
        from implicit.cpu.als import AlternatingLeastSquares

        p = self.params
        return AlternatingLeastSquares(factors=p["factors"], regularization=p["regularization"], alpha=p["alpha"],
                                       iterations=p["iterations"], num_threads=THREADS, random_state=p.get("seed", 0))


class BPR(_Factorization):
    """implicit's BPR cannot recalculate a user: a user known at fit keeps the learned factors, a
    new one is folded in by a regularised least-squares solve against the item factors."""

    name = "bpr"

    def __init__(self, factors: int = 64, learning_rate: float = 0.05, regularization: float = 0.01,
                 iterations: int = 100, **params: object) -> None:
        super().__init__(factors=factors, learning_rate=learning_rate, regularization=regularization,
                         iterations=iterations, **params)

    def _make(self):
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        p = self.params
        return BayesianPersonalizedRanking(factors=p["factors"], learning_rate=p["learning_rate"],
                                           regularization=p["regularization"], iterations=p["iterations"],
                                           num_threads=THREADS, random_state=p.get("seed", 0))

    def fit(self, log: InteractionLog, *, deadline: float | None = None, monitor: Monitor | None = None) -> None:
        super().fit(log, deadline=deadline, monitor=monitor)
        self.known_users = np.asarray(self.model.user_factors, dtype=np.float32)

    def user_factors(self, histories: Sequence[np.ndarray], users: np.ndarray | None = None) -> np.ndarray:
        users = np.full(len(histories), -1) if users is None else users
        known = (users >= 0) & (users < len(self.known_users))
        out = np.zeros((len(histories), self.item_factors.shape[1]), np.float32)
        out[known] = self.known_users[users[known]]
        unknown = np.flatnonzero(~known)
        if len(unknown):
            out[unknown] = least_squares_fold_in(self.item_factors, [histories[i] for i in unknown])
        return out

    def user_vectors(self, users: np.ndarray, histories: Sequence[np.ndarray]) -> np.ndarray:
        return self.user_factors(histories, np.asarray(users))


register_recommender("als", ALS, description="implicit ALS matrix factorisation", cost=2)
register_recommender("bpr", BPR, description="implicit BPR matrix factorisation", cost=3)


def least_squares_fold_in(item_factors: np.ndarray, histories: Sequence[np.ndarray], *, confidence: float = 10.0,
                          regularization: float = 0.1) -> np.ndarray:
    """Factors u minimising sum_i c_i (p_i - u.v_i)^2 + reg |u|^2 with p = 1 on the history (c = 1 +
    confidence there) and 0 elsewhere (c = 1): the ALS user step, for factors learned another way."""
    gram = item_factors.T @ item_factors + regularization * np.eye(item_factors.shape[1], dtype=np.float32)
    out = np.zeros((len(histories), item_factors.shape[1]), np.float32)
    for row, h in enumerate(histories):
        if len(h):
            v = item_factors[np.unique(h)]
            out[row] = np.linalg.solve(gram + confidence * v.T @ v, (1 + confidence) * v.sum(axis=0))
    return out
