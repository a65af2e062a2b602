"""Calibrating recognition for a model version, and grouping catalogue photos into bursts.

The confidence model and threshold are fitted on products the catalogue is made to lack: the
catalogue's products are dealt into rotating folds, and each fold's photos are *unknown* queries
searched against the catalogue without that fold's products (a shop's "product we do not sell"
is a whole product, not a missing photo of a known one). *Known* queries are photos of the other
products, each searched with its whole burst group (training/groups.py) and another fold's
products left out, so a burst twin cannot answer for its sibling. With labelled photos that are
not in the catalogue (`calibrate --photos`), those photos are the queries, in the same folds.

Each answer is replayed through the version's own recogniser (recognize.score), so the confidence
model is fitted on exactly what `recognize` computes; the threshold sits at the shop's operating
point (recognition.OperatingPoint), and the figures printed are those measured on the left-out
products.
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
from ..recognition import CANDIDATES, CATALOGUE_PHOTOS, DEFAULT_POINT, RECORD, OperatingPoint, Recognizer
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
Query = tuple[np.ndarray, str, Sequence[int], Sequence[str]]  # vector, own product, images and products left out


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


def group_queries(images: Sequence[ImageRecord], group: np.ndarray, max_queries: int,
                  seed: int) -> list[tuple[int, str, list[int]]]:
    """(query image id, its product, the image ids of its group): one random photo each of up to
    `max_queries` burst groups picked at random."""
    rng = np.random.default_rng(seed)
    members: dict[int, list[ImageRecord]] = {}
    for im, g in zip(images, group.tolist()):
        members.setdefault(g, []).append(im)
    picked = [members[int(g)] for g in rng.permutation(sorted(members))[:max_queries]]
    return [(ims[int(rng.integers(len(ims)))].id, ims[0].product_id, [im.id for im in ims]) for ims in picked]


def product_folds(products: Sequence[str], seed: int) -> dict[str, int]:
    """The fold of each product (recognition.product_folds over the sorted ids)."""
    ids = sorted(set(products))
    return dict(zip(ids, recognition.product_folds(len(ids), seed).tolist()))


def fold_queries(picked: Sequence[tuple[np.ndarray, str, Sequence[int]]], fold_of: Mapping[str, int],
                 findable: set[str] | None = None) -> tuple[list[Query], list[Query]]:
    """Known and unknown queries of (vector, product, images to leave out) picks. Unknown: the photo
    against the catalogue without its fold's products. Known: against the catalogue without the
    next fold's products and the images (its burst group), for products in `findable` (all: None)."""
    members: dict[int, list[str]] = {}
    for product, fold in fold_of.items():
        members.setdefault(fold, []).append(product)
    known, unknown = [], []
    for vector, product, left_out in picked:
        fold = fold_of.get(product)
        if fold is None:
            continue  # a labelled photo of a product the catalogue does not have
        unknown.append((vector, product, (), members[fold]))
        if findable is None or product in findable:
            known.append((vector, product, list(left_out), members[(fold + 1) % len(members)]))
    return known, unknown


def replay(search: SearchVector, recognizer: Recognizer, head: Mapping[str, Any] | None,
           known: Sequence[Query], unknown: Sequence[Query], modes: Sequence[str]) -> Rows:
    """Known and unknown FEATURES rows under each mode, answered by the recogniser as `recognize`
    would, each query searched without the images and products it leaves out."""
    rows: Rows = {m: ([], [], []) for m in modes}
    for part, queries in ((0, known), (2, unknown)):
        for vector, own, images, products in queries:
            candidates = search(vector, k=CANDIDATES, exclude=list(products), exclude_images=list(images))
            if not candidates:
                continue
            for m in modes:
                scored = score(recognizer, vector, candidates, head, mode=m)
                rows[m][part].append(scored.row)
                if part == 0:
                    rows[m][1].append(candidates[scored.best].product.id == own)
    return rows


def refit(recognizer: Recognizer, rows: Rows, source: str, point: OperatingPoint, unknown_products: int) -> Recognizer:
    """The recogniser with its calibrations fitted on replayed rows (its mode stays)."""

    def fit(mode: str) -> recognition.Calibration | None:
        known, right, unknown = rows[mode]
        if not known or not unknown:
            return None
        try:
            return recognition.calibrate(np.array(known), np.array(right), np.array(unknown), source, point,
                                         unknown_products)
        except ValueError:  # every answer right (or wrong): nothing to tell them apart by
            return None

    fitted = fit(recognizer.mode)
    if fitted is None:
        raise ProductLensError("calibration needs right and wrong answers: add photos of more products "
                               "(or pass --photos with labelled photos that are not in the catalogue)")
    knn = fit("knn") if recognizer.mode != "knn" and "knn" in rows else recognizer.knn_calibration
    return replace(recognizer, calibration=fitted, knn_calibration=knn)


def describe(known: Sequence[Query], unknown: Sequence[Query], what: str) -> str:
    products = len({q[1] for q in unknown})
    folds = len({tuple(q[3]) for q in unknown})
    return (f"{len(unknown)} {what} of {products} products left out of the catalogue in {folds} folds (unknown), "
            f"{len(known)} of the other products (known)")


def modes_of(recognizer: Recognizer, head: Mapping[str, Any] | None) -> list[str]:
    return [recognizer.mode] + (["knn"] if head is not None and recognizer.mode != "knn" else [])


def on_products(store: CatalogStore, model: ModelRecord, search: SearchVector, recognizer: Recognizer,
                head: Mapping[str, Any] | None, burst: float, point: OperatingPoint = DEFAULT_POINT, *,
                max_queries: int = MAX_QUERIES, seed: int = 0) -> Recognizer:
    """Calibrate on catalogue photos, whole products left out in rotating folds (module docstring)."""
    images = store.get_images()
    group = photo_groups(store, model, images, burst, seed)
    picked = group_queries(images, group, max_queries, seed)
    if len({p for _, p, _ in picked}) < 3:
        raise ProductLensError("calibration needs photos of at least 3 products (some are left out as unknown "
                               "products); add more, or pass --photos with labelled photos that are not in the catalogue")
    ids, vectors = store.embeddings(model.key, [image_id for image_id, _, _ in picked])
    vector_of = dict(zip(ids.tolist(), vectors))
    queries = [(vector_of[i], product, group_ids) for i, product, group_ids in picked if i in vector_of]
    groups_of: dict[str, set[int]] = {}
    for im, g in zip(images, group.tolist()):
        groups_of.setdefault(im.product_id, set()).add(g)
    findable = {p for p, gs in groups_of.items() if len(gs) >= 2}  # a group left to be found by
    known, unknown = fold_queries(queries, product_folds([p for _, p, _ in queries], seed), findable)
    if not known:
        raise ProductLensError(
            "calibration needs products photographed more than once, taken apart from each other (not one burst "
            "each); add more, or pass --photos with labelled photos that are not in the catalogue")
    rows = replay(search, recognizer, head, known, unknown, modes_of(recognizer, head))
    return refit(recognizer, rows, describe(known, unknown, CATALOGUE_PHOTOS), point, len({q[1] for q in unknown}))


def on_photos(embedder: Embedder, search: SearchVector, recognizer: Recognizer, head: Mapping[str, Any] | None,
              photos: Sequence[IngestItem], catalogue_products: Sequence[str], point: OperatingPoint = DEFAULT_POINT,
              seed: int = 0) -> Recognizer:
    """Calibrate on labelled photos that are not in the catalogue, their products left out in folds."""
    labelled = [it for it in photos if it.image is not None]
    picked = [(r.vector, r.item.product.id, ()) for r in embed_sources(embedder, labelled, source_of=lambda it: it.image)
              if r.vector is not None]
    if not picked:
        raise ProductLensError("none of the calibration photos could be used")
    known, unknown = fold_queries(picked, product_folds(catalogue_products, seed), None)
    rows = replay(search, recognizer, head, known, unknown, modes_of(recognizer, head))
    return refit(recognizer, rows, describe(known, unknown, "labelled photos"), point, len({q[1] for q in unknown}))


def save(store: CatalogStore, model: ModelRecord, recognizer: Recognizer) -> None:
    """Store the recogniser as the version's recognition calibration."""
    store.put_calibration(model.key, RECORD, recognizer.to_dict(), recognizer.calibration.source)
