"""Searching (`Searcher`, `Catalog.searcher`): by photo, vector, text or both; the query embedding,
candidate scope, ranking, and product hits.

A filter or excluded products restrict the candidates: on an index that filters on its server
(Milvus), as an expression the server evaluates when the filter can be pushed down
(`filters.milvus_pushdown`); else, and on every FAISS kind, as the list of allowed image ids.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .. import budget
from ..catalog.store import CatalogStore
from ..errors import ModelChangedError, VectorIndexError
from ..filters import Filter, as_filter, milvus_pushdown
from ..images import ImageSource, load_image
from ..index.live import LiveIndex
from ..models import Embedder
from ..ranking import Box, aggregate_best_image, crop_to_box
from ..results import ProductHit
from ..text.port import TextSource
from ..text.search import POOL, TextSearch
from .active import ActiveModel
from .indexing import IndexService
from .products import ProductCache

log = logging.getLogger(__name__)

MAX_PUSHED_EXCLUDES = 4096  # excluded image ids sent to the server as "id not in [...]" at most

Ranked = list[tuple[str, float, int]]  # (product id, score, best image id or -1), best first
Where = str | Filter | None  # a product filter: text ("category = 'Milk' and price < 3") or parsed


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



class Searcher:
    """Searching the catalogue: by photo, by vector, by text, both fused, and for similar products."""

    def __init__(self, store: CatalogStore, active: ActiveModel, index: IndexService, products: ProductCache,
                 text_source: TextSource) -> None:
        self.store, self.active, self.index, self.products = store, active, index, products
        self.text_source = text_source
        self.lock = threading.Lock()
        self.text: TextSearch | None = None
        active.on_switch(self.reset_text)

    def reset_text(self) -> None:
        """Text search is fitted on the model's image vectors: made again after a switch."""
        with self.lock:
            self.text = None

    def text_search(self) -> TextSearch:
        """The catalogue's text search (text/search.py), created once."""
        with self.lock:
            if self.text is None:
                self.text = TextSearch(self.text_source)
            return self.text

    def embed_query(self, image: ImageSource, box: Box | None = None, *, max_pixels: int | None = None,
                    embed: Callable[[Image.Image], np.ndarray] | None = None,
                    embedder: Embedder | None = None) -> np.ndarray:
        """A query photo's embedding: decoded (full size when cropping, so the box is in original
        pixels), cropped, embedded by `embedder` (default: the catalogue's model) or by `embed`
        (e.g. a micro-batcher running that embedder)."""
        embedder = embedder or self.active.embedder()
        picture = query_image(image, box, embedder.draft_size, max_pixels=max_pixels)
        return embed(picture) if embed is not None else embedder.embed([picture])[0]

    def photo(self, image: ImageSource, *, k: int, where: Where, box: Box | None, text: str | None,
              fusion: str) -> list[ProductHit]:
        """Products that look like the photo (fused with `text` when given); once more with the new
        model should another process switch it during the query."""
        try:
            return self._photo(image, box, text, k, where, fusion)
        except ModelChangedError:
            return self._photo(image, box, text, k, where, fusion)

    def _photo(self, image: ImageSource, box: Box | None, text: str | None, k: int, where: Where,
               fusion: str) -> list[ProductHit]:
        embedder = self.active.embedder()
        vector = self.embed_query(image, box, embedder=embedder)
        if text is None:
            return self.vector(vector, k=k, where=where, model_key=embedder.key)
        return self.hybrid(vector, text, k=k, where=where, fusion=fusion, model_key=embedder.key)

    def vector(self, vector: np.ndarray, *, k: int = 10, where: Where = None, exclude: Sequence[str] = (),
               exclude_images: Sequence[int] = (), model_key: str | None = None) -> list[ProductHit]:
        """Products whose images are nearest `vector` (an embedding of the active model, or of
        `model_key`: ModelChangedError when that is no longer the active one), best first; `where`
        filters the products, `exclude` leaves products out and `exclude_images` images."""
        live = self.index.live()
        if live is None:
            return []
        if model_key is not None and model_key != live.model_key:
            raise ModelChangedError(f"the catalogue switched to model {live.model_key} during this query; try again")
        return VectorSearch(self.store, live, self.products).run(vector, k, as_filter(where), exclude, exclude_images)

    def hybrid(self, vector: np.ndarray, text: str, *, k: int = 10, where: Where = None, fusion: str = "blend",
               model_key: str | None = None) -> list[ProductHit]:
        """A query photo's embedding and a text, their rankings fused (text/hybrid.py)."""
        flt = as_filter(where)
        image_hits = self.vector(vector, k=POOL, where=flt, model_key=model_key)
        ranking = [(h.product.id, h.score, h.image_id) for h in image_hits]
        allowed = self.products.allows(flt)
        return product_hits(self.store, self.text_search().fuse(ranking, text, k, allowed, fusion=fusion))

    def by_text(self, text: str, *, k: int = 10, where: Where = None, mode: str = "auto") -> list[ProductHit]:
        """Products matching a text query: keyword (FTS5 BM25) + semantic + image bridge, fused
        with reciprocal-rank fusion; `mode` "keyword", "semantic" or "text" picks a part."""
        allowed = self.products.allows(as_filter(where))
        ranked = self.text_search().search(text, allowed, k, mode=mode)
        return product_hits(self.store, [(pid, score, -1) for pid, score in ranked])

    def similar(self, product_id: str, *, k: int = 10, where: Where = None) -> list[ProductHit]:
        """Other products that look like this one (mean of its image embeddings as the query)."""
        model = self.active.record()
        self.store.get_product(product_id)
        query = mean_image_vector(self.store, model.key, product_id) if model is not None else None
        return [] if query is None else self.vector(query, k=k, where=where, exclude=[product_id])
