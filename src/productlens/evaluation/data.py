"""What an evaluation measures on: the catalogue's images as the gallery (embeddings of the active
model, as search uses them) and labelled query photos embedded with the same model."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..catalog.ingest import IngestItem
from ..catalog.records import ImageRecord, ModelRecord, Product
from ..errors import NothingEmbeddedError, TrainingError
from ..models import Embedder
from ..pipeline import embed_sources
from ..recognition import Recognizer
from ..results import ProductHit
from ..training.port import BackboneSource


class EvaluationSource(BackboneSource, Protocol):
    """The catalogue operations evaluation uses, as a port (the engine adapts its catalogue to it:
    engine/ports.py); the backbone's work folder and name come from training's port."""

    @property
    def active_model(self) -> ModelRecord | None: ...

    def images(self) -> list[ImageRecord]: ...

    def embeddings(self, model_key: str) -> tuple[np.ndarray, np.ndarray]:
        """(image ids, vectors) of every image the model embedded."""
        ...

    def get_products(self, product_ids: Sequence[str]) -> list[Product]: ...

    def search(self, image: Path, *, k: int = 10) -> list[ProductHit]: ...

    def model_view(self, version: str | None = None) -> "ModelUnderTest": ...


class ModelUnderTest(Protocol):
    """A model version to evaluate (the engine's ModelView): its record, its embedder (every
    catalogue image embedded with it), and its recogniser and trained head (None off-the-shelf)."""

    record: ModelRecord
    embedder: Embedder
    recognizer: Recognizer
    head: dict[str, Any] | None


PRODUCT_SHOT_MARKERS = ("_Iconic", "_iconic", "packshot", "product-shot")  # in a catalogue image's file name


@dataclass
class Gallery:
    """The catalogue side: one row per embedded image, labelled by product (class) index."""

    model: ModelRecord
    ids: np.ndarray  # image ids
    vectors: np.ndarray  # (n, dim) embeddings of the active model
    labels: np.ndarray  # class index of each image
    sources: list[str | None]
    sha256: list[str]
    classes: list[str]  # product ids, index = class
    categories: list[str]  # category names, index = coarse class
    class_category: np.ndarray  # coarse index of each class (-1: none)

    def catalog_images(self, pattern: str | None) -> np.ndarray:
        """Mask of the images whose source contains `pattern` (a catalogue's product shots); all
        False without a pattern."""
        return np.array([bool(pattern and s and pattern in s) for s in self.sources], dtype=bool)

    def product_shot_pattern(self) -> str | None:
        """The first PRODUCT_SHOT_MARKERS that names some of the gallery's images but not all of
        them (product shots beside photos, as Grocery's iconic images), else None."""
        for marker in PRODUCT_SHOT_MARKERS:
            shots = self.catalog_images(marker)
            if shots.any() and not shots.all():
                return marker
        return None


@dataclass
class QuerySet:
    """Labelled query photos that could be embedded, with their labels in the gallery's classes."""

    items: list[IngestItem]
    vectors: np.ndarray
    labels: np.ndarray  # class index
    categories: np.ndarray  # coarse index (-1: none)
    skipped: int  # queries left out: no image, a product without catalogue images, or undecodable
    embed_seconds: float
    skipped_why: list[dict[str, str | None]] = field(default_factory=list)  # each left out: image, product, reason


def load_gallery(catalog: EvaluationSource, model: ModelRecord | None = None) -> Gallery:
    """The catalogue's images embedded with `model` (default: the active one)."""
    model = model or catalog.active_model
    if model is None:
        raise NothingEmbeddedError()
    images = {im.id: im for im in catalog.images()}
    ids, vectors = catalog.embeddings(model.key)
    if not len(ids):
        raise NothingEmbeddedError()
    owners = [images[int(i)].product_id for i in ids]
    classes = sorted(set(owners))
    class_index = {p: i for i, p in enumerate(classes)}
    products = {p.id: p for p in catalog.get_products(classes)}
    categories = sorted({products[p].category for p in classes if products[p].category})
    category_index = {c: i for i, c in enumerate(categories)}
    class_category = np.array([category_index.get(products[p].category, -1) for p in classes])
    return Gallery(model, ids, vectors, np.array([class_index[p] for p in owners]),
                   [images[int(i)].source for i in ids], [images[int(i)].sha256 for i in ids], classes, categories,
                   class_category)


def embed_queries(embedder: Embedder, gallery: Gallery, queries: Sequence[IngestItem],
                  say: Callable[[str], None]) -> QuerySet:
    """The queries that name a product with catalogue images, embedded (undecodable ones left out)."""
    class_index = {p: i for i, p in enumerate(gallery.classes)}
    usable = [q for q in queries if q.image is not None and q.product.id in class_index]
    if not usable:
        raise TrainingError("none of the queries names a product that has images in the catalogue")
    say(f"embedding {len(usable)} queries with {embedder.key}")
    started = time.perf_counter()
    vectors, items = [], []
    kept = {id(q) for q in usable}
    why = [{"image": str(q.image) if q.image else None, "product_id": q.product.id,
            "reason": "no-image" if q.image is None else "product-not-in-catalogue"}
           for q in queries if id(q) not in kept]
    for r in embed_sources(embedder, usable, source_of=lambda it: it.image):
        if r.vector is not None:
            vectors.append(r.vector)
            items.append(r.item)
        else:
            why.append({"image": str(r.item.image), "product_id": r.item.product.id, "reason": r.error.reason})
    seconds = time.perf_counter() - started
    if not items:
        raise TrainingError("none of the query photos could be decoded")
    labels = np.array([class_index[it.product.id] for it in items])
    return QuerySet(items, np.stack(vectors), labels, gallery.class_category[labels], len(queries) - len(items), seconds,
                    why)
