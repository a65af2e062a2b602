"""The cold start: a product nobody has interacted with yet is scored through its photos.

With a model that has item factors (ALS, BPR, SASRec's item embeddings), a ridge regression maps
image embeddings to item factors, fitted on the products that have both; a new product's factors
are predicted from its photos and scored against the user's vector like any other item. Models
without factors (popularity, item-kNN) score a new product as the similarity-weighted mean score of
its nearest visual neighbours among the known products.
"""

from __future__ import annotations

import numpy as np

NEIGHBOURS = 5


def ridge_map(embeddings: np.ndarray, factors: np.ndarray, regularization: float = 1.0) -> np.ndarray:
    """W minimising |embeddings W - factors|^2 + regularization |W|^2, (dim, factors)."""
    gram = embeddings.T @ embeddings + regularization * np.eye(embeddings.shape[1], dtype=np.float64)
    return np.linalg.solve(gram, embeddings.T.astype(np.float64) @ factors).astype(np.float32)


def neighbour_scores(warm_scores: np.ndarray, warm_embeddings: np.ndarray, cold_embeddings: np.ndarray,
                     neighbours: int = NEIGHBOURS) -> np.ndarray:
    """(n, n_cold): each cold item's score, the similarity-weighted mean of its nearest warm items'
    scores (embeddings unit-length; negative similarities count as none)."""
    sims = np.clip(cold_embeddings @ warm_embeddings.T, 0.0, None)  # (cold, warm)
    m = min(neighbours, sims.shape[1])
    nearest = np.argpartition(-sims, m - 1, axis=1)[:, :m]
    weights = np.take_along_axis(sims, nearest, axis=1)
    weights = weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)
    return np.einsum("nck,ck->nc", warm_scores[:, nearest], weights)
