"""Searching by vector: the query embedding, candidate scope, ranking, and product hits.

A filter or excluded products restrict the candidates: on an index that filters on its server
(Milvus), as an expression the server evaluates when the filter can be pushed down
(`filters.milvus_pushdown`); else, and on every FAISS kind, as the list of allowed image ids.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .. import budget
from ..catalog.store import CatalogStore
from ..errors import VectorIndexError
from ..filters import Filter, milvus_pushdown
from ..images import ImageSource, load_image
from ..index.live import LiveIndex
from ..ranking import Box, aggregate_best_image, crop_to_box
from ..results import ProductHit
from .products import ProductCache

log = logging.getLogger(__name__)

MAX_PUSHED_EXCLUDES = 4096  # excluded image ids sent to the server as "id not in [...]" at most

Ranked = list[tuple[str, float, int]]  # (product id, score, best image id or -1), best first


def query_image(image: ImageSource, box: Box | None, draft_size: int, *, max_pixels: int | None = None) -> Image.Image:
    """A query photo ready to embed: decoded (at full size when cropping, so that the box is in
    original pixels) and cropped to `box`."""
    loaded = load_image(image, draft_size=None if box is not None else draft_size, max_pixels=max_pixels)
    return crop_to_box(loaded.image, box) if box is not None else loaded.image


def product_hits(store: CatalogStore, ranked: Ranked) -> list[ProductHit]:
    """ProductHits for ranked (product id, score, image id); an image id of -1 becomes the
    product's first image, and products deleted meanwhile are left out."""
    products = {p.id: p for p in store.get_products([pid for pid, _, _ in ranked])}
    first = store.first_images([pid for pid, _, image_id in ranked if image_id < 0])
    return [ProductHit(products[pid], score, image_id if image_id >= 0 else first.get(pid, -1), rank)
            for rank, (pid, score, image_id) in enumerate(ranked, start=1) if pid in products]


@dataclass
class Scope:
    """Which images a vector search may return: all, a server filter expression, or a list of ids."""

    pool: int  # how many images that is at most
    allowed: np.ndarray | None = None  # allowed image ids (every backend)
    expression: str | None = None  # a filter the index evaluates on its server
    recheck: Filter | None = None  # re-applied to hits: a pushed-down filter may over-select


class VectorSearch:
    """Top-k products for a query vector over one live index, filtered through the product cache."""

    def __init__(self, store: CatalogStore, live: LiveIndex, products: ProductCache) -> None:
        self.store, self.live, self.products = store, live, products

    def run(self, vector: np.ndarray, k: int, flt: Filter | None, exclude: Sequence[str] = (),
            exclude_images: Sequence[int] = ()) -> list[ProductHit]:
        if k <= 0:
            return []
        scope = self.scope(flt, exclude, exclude_images)
        try:
            ranked = self.ranked(vector, k, scope) if scope is not None else []
        except VectorIndexError as exc:
            if scope is None or scope.expression is None:
                raise
            log.warning("the index could not filter with %r (%s); sending image ids instead", scope.expression, exc)
            scope = self.scope(flt, exclude, exclude_images, push=False)
            ranked = self.ranked(vector, k, scope) if scope is not None else []
        return product_hits(self.store, ranked)

    def scope(self, flt: Filter | None, exclude: Sequence[str], exclude_images: Sequence[int] = (), *,
              push: bool = True) -> Scope | None:
        """Which images a search may return; None when no image matches at all."""
        if flt is None and not exclude and not exclude_images:
            return Scope(pool=len(self.live))
        if push and self.live.index.server_filter:
            if flt is not None:
                self.products.view().check_fields(flt)
            expression = self.server_expression(flt, exclude, exclude_images)
            if expression is not None:
                return Scope(pool=len(self.live), expression=expression or None, recheck=flt)
        if flt is None and not exclude:
            allowed = self.live.index.ids()
        else:
            allowed = self.store.image_ids_of_products([p.id for p in self.products.view().matching(flt, set(exclude))])
        if len(exclude_images):
            allowed = np.setdiff1d(allowed, np.asarray(exclude_images, dtype=np.int64))
        return Scope(pool=len(allowed), allowed=allowed) if len(allowed) else None

    def server_expression(self, flt: Filter | None, exclude: Sequence[str], exclude_images: Sequence[int] = ()) -> str | None:
        """The filter and the excluded products and images as one server expression ("" for no
        restriction), or None when they cannot be pushed down exactly enough."""
        clauses = []
        if flt is not None:
            expression = milvus_pushdown(flt, self.products.view().kinds)
            if expression is None:
                return None
            clauses.append(f"({expression})")
        excluded = np.union1d(self.store.image_ids_of_products(list(exclude)) if exclude else np.zeros(0, np.int64),
                              np.asarray(exclude_images, dtype=np.int64))
        if len(excluded) > MAX_PUSHED_EXCLUDES:
            return None
        if len(excluded):
            clauses.append(f"id not in {excluded.astype(np.int64).tolist()}")
        return " and ".join(clauses)

    def ranked(self, vector: np.ndarray, k: int, scope: Scope) -> Ranked:
        """(product id, score, best image id) of the top k products, fetching more image hits
        until k distinct products are found or the scope is exhausted."""
        fetch = min(scope.pool, max(4 * k, 64))
        while True:
            budget.check("searching")
            hits = self.live.search(vector[None, :], fetch, allowed_ids=scope.allowed, expression=scope.expression)
            ids, scores = hits.ids[0], hits.scores[0]
            mapping = self.store.image_products(ids.tolist())
            if scope.recheck is not None:
                view, recheck = self.products.view(), scope.recheck
                mapping = {image: pid for image, pid in mapping.items() if view.match(pid, recheck)}
            ranked = aggregate_best_image(ids, scores, mapping, k)
            exhausted = scope.expression is not None and int((ids >= 0).sum()) < fetch  # the server found no more
            if len(ranked) >= k or fetch >= scope.pool or exhausted:
                return ranked
            fetch = min(scope.pool, fetch * 4)


def mean_image_vector(store: CatalogStore, model_key: str, product_id: str) -> np.ndarray | None:
    """The unit mean of a product's image embeddings (the query of `similar`); None without any."""
    image_ids = [im.id for im in store.get_images(product_id)]
    _, vectors = store.embeddings(model_key, image_ids)
    if not len(vectors):
        return None
    query = vectors.mean(axis=0)
    query /= max(float(np.linalg.norm(query)), 1e-12)
    return query.astype(np.float32)

