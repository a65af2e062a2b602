"""Fusion of rankings (reciprocal-rank fusion, score blending) and the learned text -> image map.

Reciprocal-rank fusion (Cormack et al., 2009): score(p) = sum_i w_i / (K + rank_i(p)), K = 60,
summed over the ranked lists that contain p. It needs no score calibration, which is why it
fuses keyword (BM25, unbounded) with cosine rankings.

Score blending: image cosine + beta * text relevance, where text relevance is itself a cosine
(query vs the product's text embedding, or vs its images through the text -> image map) plus a
small bonus for keyword matches. Both terms live on the cosine scale, so one `beta` holds
across queries; benchmarks/bench_text.py chooses it on the validation split.

`TextImageMap` is a ridge regression from the sentence space into the catalogue's image space,
fitted on products that have both text and images. It lets a text query reach products that have
no text of their own (only photos): map the query, then compare with their mean image vector.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

RRF_K = 60


def rrf(rankings: Sequence[Iterable[str]], weights: Sequence[float] | None = None, k: int = RRF_K) -> list[tuple[str, float]]:
    """Fuse ranked id lists (best first) into one list of (id, fused score), best first."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def blend(image: dict[str, float], text: dict[str, float], beta: float) -> list[tuple[str, float]]:
    """image cosine + beta * text relevance over the union of both (a missing term counts 0)."""
    ids = set(image) | set(text)
    fused = {p: image.get(p, 0.0) + beta * text.get(p, 0.0) for p in ids}
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def normalize_rows(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)).astype(np.float32)


@dataclass
class TextImageMap:
    """Ridge map W (text dim x image dim): image_vector ~ normalize(text_vector @ W)."""

    weights: np.ndarray
    fitted_on: int

    @classmethod
    def fit(cls, text: np.ndarray, image: np.ndarray, alpha: float = 1.0) -> "TextImageMap":
        """Closed form W = (X'X + alpha I)^-1 X'Y, X = text rows, Y = image rows (as given)."""
        x = np.asarray(text, dtype=np.float64)
        y = np.asarray(image, dtype=np.float64)
        gram = x.T @ x + alpha * np.eye(x.shape[1])
        return cls(np.linalg.solve(gram, x.T @ y).astype(np.float32), len(x))

    def __call__(self, text: np.ndarray) -> np.ndarray:
        return normalize_rows(np.atleast_2d(text) @ self.weights)
