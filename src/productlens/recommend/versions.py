"""Fitted recommenders kept as versions beside the catalogue's model versions, and the bridge that
lets a model fitted on one item vocabulary answer for another (the catalogue grows after a fit).

A version file is written atomically (a kill during a fit leaves the active version as it was);
it is a pickle of this package's own objects, read only from the catalogue's own folder.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_bytes
from ..errors import RecommenderError
from .base import Monitor, Recommender
from .cold_start import neighbour_scores, ridge_map
from .log import InteractionLog


@dataclass
class RecommenderVersion:
    """A fitted model, the item ids its codes stand for, and how it was chosen."""

    model: Recommender
    item_ids: np.ndarray
    name: str = ""  # the version's file stem
    choice: dict[str, Any] = field(default_factory=dict)
    validation_ndcg: float = 0.0
    fitted_at: float = field(default_factory=time.time)
    item_counts: np.ndarray | None = None  # events per item at fit time: 0 means the model knows nothing of it

    def summary(self) -> dict[str, Any]:
        return {"version": self.name, "model": self.model.name, "validation_ndcg@10": round(self.validation_ndcg, 4),
                "items": len(self.item_ids),
                "fitted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.fitted_at))}


def save_version(folder: Path, version: RecommenderVersion) -> Path:
    """Write `version` as folder/<model>-<time>.pkl (atomically); returns the path."""
    version.name = version.name or f"{version.model.name}-{time.strftime('%Y%m%d-%H%M%S')}-{int(time.time() * 1000) % 1000:03d}"
    path = folder / f"{version.name}.pkl"
    write_bytes(path, pickle.dumps(version, protocol=pickle.HIGHEST_PROTOCOL))
    return path


def load_version(path: Path) -> RecommenderVersion:
    """A version written by save_version; RecommenderError when it is missing or unreadable."""
    try:
        version = pickle.loads(path.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ModuleNotFoundError) as exc:
        raise RecommenderError(f"cannot read recommender version {path}: {exc}") from exc
    if not isinstance(version, RecommenderVersion):
        raise RecommenderError(f"{path} is not a recommender version")
    return version


class Bridged(Recommender):
    """A fitted model seen through another item vocabulary: histories are mapped to the model's
    codes (items it never saw are dropped). Items it has no interactions for score -inf, or, when
    `embeddings` (unit rows, one per item; `has_photo` says which are real) are given, are scored
    through their photos (cold_start.py)."""

    def __init__(self, model: Recommender, model_ids: np.ndarray, item_ids: np.ndarray, *,
                 item_counts: np.ndarray | None = None, embeddings: np.ndarray | None = None,
                 has_photo: np.ndarray | None = None) -> None:
        super().__init__()
        self.model, self.name, self.n_items = model, model.name, len(item_ids)
        lookup = {item: code for code, item in enumerate(model_ids)}
        self.to_model = np.array([lookup.get(item, -1) for item in item_ids], dtype=np.int64)
        trained = self.to_model >= 0
        if item_counts is not None:
            trained[trained] = item_counts[self.to_model[trained]] > 0
        self.known = np.flatnonzero(trained)
        self.cold: np.ndarray = np.zeros(0, np.int64)
        if embeddings is not None and has_photo is not None:
            self._fit_cold_start(embeddings, has_photo, trained)

    def _fit_cold_start(self, embeddings: np.ndarray, has_photo: np.ndarray, trained: np.ndarray) -> None:
        warm, cold = np.flatnonzero(trained & has_photo), np.flatnonzero(~trained & has_photo)
        if len(warm) < 2 or not len(cold):
            return
        self.cold, self.warm = cold, warm
        self.warm_embeddings, self.cold_embeddings = embeddings[warm], embeddings[cold]
        vectors = self.model.item_vectors()
        self.cold_vectors = None
        if vectors is not None:
            mapping = ridge_map(self.warm_embeddings, vectors[self.to_model[warm]])
            self.cold_vectors = self.cold_embeddings @ mapping

    def fit(self, log: InteractionLog, *, deadline: float | None = None, monitor: Monitor | None = None) -> None:
        raise RecommenderError("a bridged model is already fitted")

    def score(self, users: np.ndarray, histories: Sequence[np.ndarray]) -> np.ndarray:
        mapped = [self.to_model[h][self.to_model[h] >= 0] for h in histories]
        inner = self.model.score(np.full(len(histories), -1), mapped)
        out = np.full((len(histories), self.n_items), -np.inf, np.float32)
        out[:, self.known] = inner[:, self.to_model[self.known]]
        if len(self.cold):
            if self.cold_vectors is not None:
                users_vectors = self.model.user_vectors(np.full(len(histories), -1), mapped)
                out[:, self.cold] = users_vectors @ self.cold_vectors.T
            else:
                out[:, self.cold] = neighbour_scores(out[:, self.warm], self.warm_embeddings, self.cold_embeddings)
        return out
