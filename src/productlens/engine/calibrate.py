"""Choosing the recognition "unknown" threshold for a catalogue (see recognition.py).

With labelled photos that are NOT in the catalogue (e.g. a validation split) the scores are
those of real new photos; without, catalogue images are left out one at a time, which is
optimistic when a product's photos are near-duplicates of each other.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import recognition
from ..catalog.ingest import IngestItem
from ..catalog.store import CatalogStore
from ..errors import ProductLensError
from ..index.live import LiveIndex
from ..models import Embedder
from ..pipeline import embed_sources
from ..results import ProductHit

SearchVector = Callable[..., list[ProductHit]]  # Catalog.search_vector: (vector, *, k, exclude)


def on_photos(embedder: Embedder, search: SearchVector, photos: list[IngestItem]) -> recognition.Calibration:
    """Known: each photo's top hit and whether it is its product; unknown: its top hit once its
    own product is excluded (a product the catalogue lacks)."""
    known_scores, known_correct, unknown_scores = [], [], []
    labelled = [it for it in photos if it.image is not None]
    for result in embed_sources(embedder, labelled, source_of=lambda it: it.image):
        if result.vector is None:
            continue
        own = result.item.product.id
        best = search(result.vector, k=1)
        if best:
            known_scores.append(best[0].score)
            known_correct.append(best[0].product.id == own)
        impostor = search(result.vector, k=1, exclude=[own])
        if impostor:
            unknown_scores.append(impostor[0].score)
    if not known_scores:
        raise ProductLensError("none of the calibration photos could be used")
    return recognition.calibrate(np.array(known_scores), np.array(known_correct), np.array(unknown_scores))


def leave_one_out(store: CatalogStore, model_key: str, live: LiveIndex, search: SearchVector, max_queries: int,
                  seed: int) -> recognition.Calibration:
    """Known: a catalogue image's best *other* image; unknown: its best hit once its product is excluded."""
    images = store.get_images()
    by_product: dict[str, list[int]] = {}
    for im in images:
        by_product.setdefault(im.product_id, []).append(im.id)
    eligible = [im.id for im in images if len(by_product[im.product_id]) >= 2]
    if len(by_product) < 3 or not eligible:
        raise ProductLensError("calibration needs at least 3 products and one with 2+ images")
    rng = np.random.default_rng(seed)
    queries = rng.choice(eligible, size=min(max_queries, len(eligible)), replace=False)
    product_of = {im.id: im.product_id for im in images}
    known_scores, known_correct, unknown_scores = [], [], []
    for ids, vectors in store.iter_embeddings(model_key, queries.tolist()):
        for image_id, vector in zip(ids.tolist(), vectors):
            own = product_of[image_id]
            hits = live.search(vector[None, :], 2)  # itself and the best other image
            others = [(i, s) for i, s in zip(hits.ids[0].tolist(), hits.scores[0].tolist()) if i != image_id and i >= 0]
            if others:
                known_scores.append(others[0][1])
                known_correct.append(product_of.get(others[0][0]) == own)
            impostor = search(vector, k=1, exclude=[own])
            if impostor:
                unknown_scores.append(impostor[0].score)
    return recognition.calibrate(np.array(known_scores), np.array(known_correct), np.array(unknown_scores))
