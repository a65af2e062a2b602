"""Recommendations service: the catalogue's interactions, fitted recommender versions, and the
answers (for a user, a basket, a product), filtered like every other product list.

The recommender versions live in models/recommenders/; the active one is named in the store's
meta, switched only after its file is complete, so a kill during a fit leaves the active one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import meta_keys
from ..catalog import interactions as table
from ..catalog.store import CatalogStore, ModelRecord
from ..errors import RecommenderError
from ..filters import as_filter
from ..recommend import InteractionLog, hold_out_last, leave_last_out
from ..recommend.base import one_blas_thread
from ..recommend.choose import DEFAULT_BUDGET_S, SELECTION_USERS, choose_recommender
from ..recommend.compare import compare_recommenders, plot_rows
from ..recommend.evaluate import evaluate
from ..recommend.port import log_from_source
from ..recommend.versions import Bridged, RecommenderVersion, load_version, save_version
from ..results import ProductHit
from .lifecycle import WriteLock
from .products import ProductCache
from .search import Where

logger = logging.getLogger(__name__)
FOLDER = Path("models") / "recommenders"


class Recommendations:
    """Interactions in, recommendations out (Catalog.add_interactions / Catalog.recommend)."""

    def __init__(self, path: Path, store: CatalogStore, lock: WriteLock, products: ProductCache,
                 active_model: Callable[[], ModelRecord | None]) -> None:
        self.folder = path / FOLDER
        self.store, self.lock, self.products, self.active_model = store, lock, products, active_model
        self._loaded: tuple[str, RecommenderVersion] | None = None
        self._bridge: tuple[tuple[str, int], Bridged] | None = None
        self._popularity: tuple[int, np.ndarray, np.ndarray] | None = None

    # --- interactions --------------------------------------------------------------------------

    def add(self, source: str | Path | Iterable[Mapping[str, Any]], *, weights: Mapping[str, float] | None = None,
            known_only: bool = False, progress: Callable[[int], None] | None = None) -> table.InteractionReport:
        """Add the events of a .csv/.jsonl file, or of dict rows, in one transaction."""
        rows = table.read_rows(Path(source)) if isinstance(source, (str, Path)) else source
        with self.lock.hold():
            return table.add_interactions(self.store, rows, weights=weights, known_only=known_only, progress=progress)

    def info(self) -> dict[str, Any]:
        """Counts, dates, users, items, sparsity, and the active recommender."""
        active = self.active()
        return {**table.interaction_summary(self.store), "recommender": active.summary() if active else None}

    def remove_user(self, user_id: str) -> int:
        """Forget a shopper's interactions (their recommendations fall back to popularity)."""
        with self.lock.hold():
            return table.remove_user(self.store, user_id)

    def interaction_rows(self) -> list[tuple[str, str, float, float, str]]:
        """The port recommend/ reads (recommend/port.py): every interaction, by user then time."""
        return table.interaction_rows(self.store)

    def product_ids(self) -> list[str]:
        """The port's item vocabulary: every product of the catalogue."""
        return [p.id for p in self.products.view().products]

    def log(self) -> InteractionLog:
        """Every interaction, over every product of the catalogue as the item vocabulary."""
        return log_from_source(self)

    # --- versions ---------------------------------------------------------------------------

    def active(self) -> RecommenderVersion | None:
        """The active fitted recommender (loaded once per version), or None before the first fit."""
        name = self.store.get_meta(meta_keys.ACTIVE_RECOMMENDER)
        if not name:
            return None
        if self._loaded is None or self._loaded[0] != name:
            self._loaded = (name, load_version(self.folder / f"{name}.pkl"))
        return self._loaded[1]

    def fit(self, *, model: str | None = None, budget_s: float = DEFAULT_BUDGET_S, force: bool = False,
            params: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        """Choose a model on the validation split, save it as a version, and activate it unless it
        scores worse there than the active one (`force` activates it anyway)."""
        log = self.log()
        if len(log) == 0:
            raise RecommenderError("no interactions yet: add some with `productlens interactions add`")
        choice = choose_recommender(log, models=[model] if model else None, budget_s=budget_s, params=params)
        new_score = max(c.validation.ndcg for c in choice.candidates if c.validation is not None)
        version = RecommenderVersion(choice.model, log.item_ids, choice=choice.to_dict(), validation_ndcg=new_score,
                                     item_counts=log.item_counts())
        active = self.active()
        active_score = self._validation_score(active, log) if active is not None else None
        path = save_version(self.folder, version)
        activated = force or active_score is None or new_score >= active_score
        if activated:
            self.store.set_meta({meta_keys.ACTIVE_RECOMMENDER: version.name})
        return {**version.summary(), "path": str(path), "activated": activated,
                "active_validation_ndcg@10": None if active_score is None else round(active_score, 4), **choice.to_dict()}

    def _validation_score(self, version: RecommenderVersion, log: InteractionLog) -> float:
        """The version's NDCG@10 on today's validation split (the same users and targets as a new fit).
        A version refitted (or caught up) on every event has seen those targets: its own score from
        before stands instead."""
        if version.choice.get("refitted") or version.choice.get("caught_up"):
            return version.validation_ndcg
        train, validation = hold_out_last(log, min_events=2)
        bridged = Bridged(version.model, version.item_ids, log.item_ids)
        return evaluate(bridged, train, validation, everything=log, full=False, max_users=SELECTION_USERS).sampled.ndcg

    def evaluate(self, *, models: Sequence[str] | None = None, budget_s: float = DEFAULT_BUDGET_S,
                 plot: Path | None = None) -> dict[str, Any]:
        """Every model side by side on the leave-last-out test split of the catalogue's interactions."""
        log = self.log()
        split = leave_last_out(log)
        if not len(split.test):
            raise RecommenderError("no user has three interactions: nothing to test a recommender on")
        rows, choice = compare_recommenders(log, models=models, budget_s=budget_s)
        return {"test_users": len(split.test), "chosen": choice.name, "models": [r.to_dict() for r in rows],
                "candidates": choice.to_dict()["candidates"], "plot": str(plot_rows(rows, plot)) if plot else None}

    # --- answers ------------------------------------------------------------------------------

    def recommend(self, *, user: str | None = None, items: Sequence[str] | None = None, product: str | None = None,
                  k: int = 10, where: Where = None, exclude_seen: bool = True) -> list[ProductHit]:
        """Products for a user's history, a basket, or one product ("often bought with"), best first.

        No history (or no fitted model): the most popular products. Products removed from the
        catalogue and those `where` rejects are never returned."""
        if sum(x is not None for x in (user, items, product)) != 1:
            raise RecommenderError("recommend needs exactly one of user, items or product")
        if product is not None:
            self.store.get_product(product)  # ProductNotFoundError for an unknown id
        history = table.user_history(self.store, user) if user is not None else list(items or [product])
        view = self.products.view()
        ids = np.array([p.id for p in view.products], dtype=object)
        codes = {pid: n for n, pid in enumerate(ids)}
        seen = np.array([codes[h] for h in history if h in codes], dtype=np.int64)
        scores = self._scores(ids, seen)
        allowed = view.allows(as_filter(where))
        if allowed is not None:
            scores[[not allowed(pid) for pid in ids]] = -np.inf
        if (exclude_seen or product is not None) and len(seen):
            scores[seen] = -np.inf
        top = np.argsort(-scores, kind="stable")[:k]
        top = top[np.isfinite(scores[top])]
        images = self.store.first_images([ids[t] for t in top])
        return [ProductHit(view.by_id[ids[t]], float(scores[t]), images.get(ids[t], -1), rank)
                for rank, t in enumerate(top, 1)]

    def blend_similar(self, similar: Callable[..., list[ProductHit]], product: str, *, k: int, where: Where,
                      weight: float) -> list[ProductHit]:
        """`similar`'s look-alikes and this product's "often bought with", each scaled to [0, 1] over
        a wider candidate list and mixed (1 - weight) : weight."""
        if not 0 < weight <= 1:
            raise RecommenderError(f"blend must be in (0, 1], not {weight}")
        wide = max(50, 5 * k)
        lists = (similar(product, k=wide, where=where), self.recommend(product=product, k=wide, where=where))
        mixed: dict[str, float] = {}
        hits: dict[str, ProductHit] = {}
        for share, found in zip((1.0 - weight, weight), lists):
            scores = np.array([h.score for h in found], dtype=np.float64)
            if not len(scores):
                continue
            low, span = scores.min(), max(float(np.ptp(scores)), 1e-12)
            for hit, score in zip(found, scores):
                mixed[hit.product.id] = mixed.get(hit.product.id, 0.0) + share * (score - low) / span
                hits.setdefault(hit.product.id, hit)
        best = sorted(mixed, key=lambda pid: -mixed[pid])[:k]
        return [ProductHit(hits[pid].product, mixed[pid], hits[pid].image_id, rank) for rank, pid in enumerate(best, 1)]

    def _scores(self, ids: np.ndarray, seen: np.ndarray) -> np.ndarray:
        """Scores of every catalogue product for one history (popularity when it is empty)."""
        popularity = self._popularity_scores(ids)
        version = self.active()
        if version is None or not len(seen):
            return popularity
        key = (version.name, self.store.generation)
        if self._bridge is None or self._bridge[0] != key:
            embeddings, has_photo = self._photo_vectors(ids)
            self._bridge = (key, Bridged(version.model, version.item_ids, ids, item_counts=version.item_counts,
                                         embeddings=embeddings, has_photo=has_photo))
        with one_blas_thread():
            scores = self._bridge[1].score(np.array([-1]), [seen])[0]
        # Items the model never saw come after every item it scores, ordered by popularity.
        floor = np.min(scores[np.isfinite(scores)], initial=0.0)
        unseen = ~np.isfinite(scores)
        scores[unseen] = floor - 1.0 - 1.0 / (1.0 + popularity[unseen])
        return scores

    def _photo_vectors(self, ids: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Each product's unit mean image embedding under the active image model, and which have one."""
        model = self.active_model()
        if model is None:
            return None, None
        image_ids, vectors = self.store.embeddings(model.key)
        if not len(image_ids):
            return None, None
        owners = self.store.image_products([int(i) for i in image_ids])
        row = {pid: n for n, pid in enumerate(ids)}
        sums = np.zeros((len(ids), vectors.shape[1]), np.float64)
        for image_id, vector in zip(image_ids, vectors):
            n = row.get(owners.get(int(image_id)))
            if n is not None:
                sums[n] += vector
        norms = np.linalg.norm(sums, axis=1)
        has_photo = norms > 0
        return (sums / np.maximum(norms, 1e-12)[:, None]).astype(np.float32), has_photo

    def _popularity_scores(self, ids: np.ndarray) -> np.ndarray:
        """Weighted event counts per catalogue product, cached per store generation."""
        generation = self.store.generation
        if self._popularity is None or self._popularity[0] != generation or len(self._popularity[1]) != len(ids):
            counts = dict(self.store.rows("SELECT product_id, SUM(weight) FROM interactions GROUP BY product_id"))
            self._popularity = (generation, ids, np.array([counts.get(pid, 0.0) for pid in ids], dtype=np.float32))
        return self._popularity[2].copy()

