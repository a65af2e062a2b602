"""Item-kNN: items are similar when the same users touched both (cosine over the co-occurrence
matrix); a user's history votes for each item's nearest neighbours, recent events counting more.
Folding in new events is free: scoring reads the history, not a per-user factor."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse

from .base import Monitor, Recommender, recency_weights
from .log import InteractionLog
from .registry import register_recommender


def top_k_per_row(m: sparse.csr_matrix, k: int) -> sparse.csr_matrix:
    """Keep the `k` largest entries of each row."""
    m = m.tocsr()
    indptr, indices, data = [0], [], []
    for row in range(m.shape[0]):
        lo, hi = m.indptr[row], m.indptr[row + 1]
        values = m.data[lo:hi]
        keep = np.argpartition(-values, k)[:k] if len(values) > k else np.arange(len(values))
        indices.append(m.indices[lo:hi][keep])
        data.append(values[keep])
        indptr.append(indptr[-1] + len(keep))
    return sparse.csr_matrix((np.concatenate(data) if data else np.zeros(0, np.float32),
                              np.concatenate(indices) if indices else np.zeros(0, np.int32), indptr), shape=m.shape)


class ItemKNN(Recommender):
    name = "item-knn"

    def __init__(self, neighbours: int = 200, decay: float = 0.7, shrink: float = 10.0, popularity: float = 0.1,
                 **params: object) -> None:
        super().__init__(neighbours=neighbours, decay=decay, shrink=shrink, popularity=popularity, **params)

    def fit(self, log: InteractionLog, *, deadline: float | None = None, monitor: Monitor | None = None) -> None:
        self.n_items = log.n_items
        x = log.matrix(binary=True)
        co = (x.T @ x).tocsr().astype(np.float32)
        co.setdiag(0)
        co.eliminate_zeros()
        norms = np.sqrt(np.asarray(x.sum(axis=0)).ravel()).astype(np.float32)
        co = co.tocoo()
        # Cosine, shrunk towards 0 for pairs seen together only a few times.
        values = co.data / (norms[co.row] * norms[co.col] + 1e-9) * (co.data / (co.data + self.params["shrink"]))
        sim = sparse.csr_matrix((values.astype(np.float32), (co.row, co.col)), shape=co.shape)
        # Row i: the neighbours history item i votes for (history x similarity = scores).
        self.similarity = top_k_per_row(sim, int(self.params["neighbours"]))
        counts = np.asarray(x.sum(axis=0)).ravel().astype(np.float32)
        # A small popularity prior breaks ties between items no neighbour votes for.
        self.prior = (np.log1p(counts) / max(np.log1p(counts).max(), 1.0) * 1e-3 * self.params["popularity"]).astype(np.float32)

    def score(self, users: np.ndarray, histories: Sequence[np.ndarray]) -> np.ndarray:
        decay = float(self.params["decay"])
        rows, cols, vals = [], [], []
        for i, h in enumerate(histories):
            w = recency_weights(len(h), decay)
            rows.append(np.full(len(h), i))
            cols.append(h)
            vals.append(w)
        if not histories:
            return np.zeros((0, self.n_items), np.float32)
        weighted = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                     shape=(len(histories), self.n_items))
        scores = np.asarray((weighted @ self.similarity).todense(), dtype=np.float32)
        return scores + self.prior


register_recommender("item-knn", ItemKNN, description="cosine over co-occurrence, recent events weigh more", cost=1)
