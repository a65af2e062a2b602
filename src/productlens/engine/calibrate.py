"""Calibrating recognition for a model version, and grouping catalogue photos into bursts.

Default: held-out groups of the catalogue's own photos. Photos are grouped into bursts
(training/groups.py) in the version's embedding space; a query is one photo of a group, searched
with its whole group left out (known: is the top product right?) and with its whole product left
out (unknown: a product the catalogue lacks). Leaving single photos out would let a burst twin
answer for its sibling and make the threshold optimistic. With labelled photos that are not in the
catalogue (`calibrate --photos`), those are the queries instead.

Each answer is replayed through the version's own recogniser (recognize.score), so the confidence
model is fitted on exactly what `recognize` computes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from .. import recognition
from ..catalog.ingest import IngestItem
from ..catalog.media import MediaStore
from ..catalog.store import CatalogStore, ImageRecord, ModelRecord
from ..errors import ImageError, ProductLensError
from ..images import load_image
from ..models import Embedder
from ..pipeline import embed_sources
from ..recognition import CANDIDATES, RECORD, Recognizer
from ..results import ProductHit
from ..training import groups
from .recognize import score

log = logging.getLogger(__name__)

BURST = "burst"  # calibration record: a version's burst threshold (groups.burst_threshold)
BURST_IMAGES = 48  # catalogue photos copied to measure it
MAX_QUERIES = 400
RELATED_SAMPLE = 2000  # photos whose nearest other product sets the related threshold

SearchVector = Callable[..., list[ProductHit]]  # Catalog.search_vector(vector, *, k, exclude, exclude_images)
Rows = dict[str, tuple[list[np.ndarray], list[bool], list[np.ndarray]]]  # mode -> known rows, right?, unknown rows


def burst_threshold(store: CatalogStore, media: MediaStore, embedder: Embedder, model: ModelRecord,
                    seed: int = 0) -> float:
    """The version's burst threshold: stored, or measured on copies of catalogue photos and stored."""
    record = store.get_calibration(model.key, BURST)
    if record is not None:
        return float(record.value["threshold"])
    images = store.get_images()
    rng = np.random.default_rng(seed)
    pictures = []
    for i in rng.permutation(len(images)):
        data = media.original_bytes(images[int(i)])
        if data is None:
            continue
        try:
            pictures.append(load_image(data, draft_size=embedder.draft_size).image)
        except ImageError:
            continue
        if len(pictures) >= BURST_IMAGES:
            break
    if not pictures:
        raise ProductLensError("no catalogue photo could be read to measure how alike burst shots are")
    threshold = groups.burst_threshold(embedder.embed, pictures, seed)
    store.put_calibration(model.key, BURST, {"threshold": threshold, "copies": len(pictures)},
                          f"{len(pictures)} synthetic burst copies of catalogue photos")
    return threshold


def photo_groups(store: CatalogStore, model: ModelRecord, images: Sequence[ImageRecord], burst: float,
                 seed: int = 0) -> np.ndarray:
    """A burst group per image (images without an embedding each form their own)."""
    ids, vectors = store.embeddings(model.key, [im.id for im in images])
    row = {int(i): n for n, i in enumerate(ids.tolist())}
    embedded = [im for im in images if im.id in row]
    labels = np.arange(len(images)) + len(images)  # singletons, renumbered below
    if embedded:
        ordered = vectors[[row[im.id] for im in embedded]]
        products = [im.product_id for im in embedded]
        sample = np.random.default_rng(seed).permutation(len(embedded))[:RELATED_SAMPLE]
        related = groups.related_threshold(ordered, products, rows=sample)
        photos = [groups.Photo(im.product_id, im.source, im.captured_at) for im in embedded]
        found = groups.burst_groups(ordered, photos, burst=burst, related=related)
        position = {im.id: n for n, im in enumerate(embedded)}
        labels = np.array([found[position[im.id]] if im.id in position else labels[n] for n, im in enumerate(images)])
    return np.unique(labels, return_inverse=True)[1]


def held_out_queries(images: Sequence[ImageRecord], group: np.ndarray, max_queries: int,
                     seed: int) -> list[tuple[int, str, list[int]]]:
    """(query image id, its product, the image ids of its group) for one photo of up to
    `max_queries` groups, from products with at least two groups (one must stay to be found)."""
    rng = np.random.default_rng(seed)
    members: dict[int, list[ImageRecord]] = {}
    groups_of_product: dict[str, set[int]] = {}
    for im, g in zip(images, group.tolist()):
        members.setdefault(g, []).append(im)
        groups_of_product.setdefault(im.product_id, set()).add(g)
    eligible = [g for g, ims in members.items() if len(groups_of_product[ims[0].product_id]) >= 2]
    picked = [members[int(g)] for g in rng.permutation(eligible)[:max_queries]]
    return [(ims[int(rng.integers(len(ims)))].id, ims[0].product_id, [im.id for im in ims]) for ims in picked]


def replay(search: SearchVector, recognizer: Recognizer, head: Mapping[str, Any] | None,
           queries: Sequence[tuple[np.ndarray, str, Sequence[int]]], modes: Sequence[str]) -> Rows:
    """Known and unknown FEATURES rows of each query (vector, own product, images to leave out)
    under each mode, answered by the recogniser as `recognize` would."""
    rows: Rows = {m: ([], [], []) for m in modes}
    for vector, own, left_out in queries:
        known = search(vector, k=CANDIDATES, exclude_images=list(left_out))
        impostors = search(vector, k=CANDIDATES, exclude=[own])
        for m in modes:
            if known:
                scored = score(recognizer, vector, known, head, mode=m)
                rows[m][0].append(scored.row)
                rows[m][1].append(known[scored.best].product.id == own)
            if impostors:
                rows[m][2].append(score(recognizer, vector, impostors, head, mode=m).row)
    return rows


def refit(recognizer: Recognizer, rows: Rows, source: str) -> Recognizer:
    """The recogniser with its calibrations fitted on replayed rows (its mode stays)."""

    def fit(mode: str) -> recognition.Calibration | None:
        known, right, unknown = rows[mode]
        if not known or not unknown:
            return None
        try:
            return recognition.calibrate(np.array(known), np.array(right), np.array(unknown), source)
        except ValueError:  # every answer right (or wrong): nothing to tell them apart by
            return None

    fitted = fit(recognizer.mode)
    if fitted is None:
        raise ProductLensError("calibration needs right and wrong answers: add photos of more products "
                               "(or pass --photos with labelled photos that are not in the catalogue)")
    knn = fit("knn") if recognizer.mode != "knn" and "knn" in rows else recognizer.knn_calibration
    return replace(recognizer, calibration=fitted, knn_calibration=knn)


def on_groups(store: CatalogStore, model: ModelRecord, search: SearchVector, recognizer: Recognizer,
              head: Mapping[str, Any] | None, burst: float, *, max_queries: int = MAX_QUERIES,
              seed: int = 0) -> Recognizer:
    """Calibrate on held-out groups of catalogue photos (see the module docstring)."""
    images = store.get_images()
    group = photo_groups(store, model, images, burst, seed)
    picked = held_out_queries(images, group, max_queries, seed)
    if len(picked) < 3 or len({p for _, p, _ in picked}) < 2:
        raise ProductLensError(
            "calibration needs photos of at least 2 products taken apart from each other (not one burst each); "
            "add more, or pass --photos with labelled photos that are not in the catalogue")
    ids, vectors = store.embeddings(model.key, [image_id for image_id, _, _ in picked])
    vector_of = dict(zip(ids.tolist(), vectors))
    queries = [(vector_of[i], product, group_ids) for i, product, group_ids in picked if i in vector_of]
    modes = [recognizer.mode] + (["knn"] if head is not None and recognizer.mode != "knn" else [])
    source = f"{len(queries)} held-out burst groups of catalogue photos"
    return refit(recognizer, replay(search, recognizer, head, queries, modes), source)


def on_photos(embedder: Embedder, search: SearchVector, recognizer: Recognizer, head: Mapping[str, Any] | None,
              photos: Sequence[IngestItem]) -> Recognizer:
    """Calibrate on labelled photos that are not in the catalogue."""
    labelled = [it for it in photos if it.image is not None]
    queries = [(r.vector, r.item.product.id, ()) for r in embed_sources(embedder, labelled, source_of=lambda it: it.image)
               if r.vector is not None]
    if not queries:
        raise ProductLensError("none of the calibration photos could be used")
    modes = [recognizer.mode] + (["knn"] if head is not None and recognizer.mode != "knn" else [])
    return refit(recognizer, replay(search, recognizer, head, queries, modes), f"{len(queries)} labelled photos")


def save(store: CatalogStore, model: ModelRecord, recognizer: Recognizer) -> None:
    """Store the recogniser as the version's recognition calibration."""
    store.put_calibration(model.key, RECORD, recognizer.to_dict(), recognizer.calibration.source)
