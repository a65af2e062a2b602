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
    codes (items it never saw are dropped), and items it never saw score `unseen`."""

    def __init__(self, model: Recommender, model_ids: np.ndarray, item_ids: np.ndarray, unseen: float = -np.inf) -> None:
        super().__init__()
        self.model, self.name, self.n_items, self.unseen = model, model.name, len(item_ids), unseen
        lookup = {item: code for code, item in enumerate(model_ids)}
        self.to_model = np.array([lookup.get(item, -1) for item in item_ids], dtype=np.int64)
        self.known = np.flatnonzero(self.to_model >= 0)

    def fit(self, log: InteractionLog, *, deadline: float | None = None, monitor: Monitor | None = None) -> None:
        raise RecommenderError("a bridged model is already fitted")

    def score(self, users: np.ndarray, histories: Sequence[np.ndarray]) -> np.ndarray:
        mapped = [self.to_model[h][self.to_model[h] >= 0] for h in histories]
        inner = self.model.score(np.full(len(histories), -1), mapped)
        out = np.full((len(histories), self.n_items), self.unseen, np.float32)
        out[:, self.known] = inner[:, self.to_model[self.known]]
        return out
