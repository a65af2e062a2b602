"""What training learns from: the catalogue's images with product (fine) and category (coarse)
labels, split into train and a validation part carved out per product when none is given."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from ..catalog.ingest import IngestItem
from ..catalog.store import CatalogStore, Product
from ..errors import TrainingError
from ..images import content_hash, read_bytes


class TrainingSource(Protocol):
    """What training reads from (and writes a version into) a catalogue; the engine's Catalog is one."""

    path: Path
    store: CatalogStore

    @property
    def model_name(self) -> str: ...

    @property
    def models_dir(self) -> Path: ...

    def products(self) -> list[Product]: ...


@dataclass
class Sample:
    sha256: str
    source: str
    product_id: str


@dataclass
class LabelledSet:
    train: list[Sample]
    val: list[Sample]
    classes: list[str]  # product ids, index = class id
    categories: list[str]  # coarse names, index = coarse id
    category_of: dict[str, int] = field(default_factory=dict)  # product id -> coarse id (-1 none)
    missing: list[str] = field(default_factory=list)  # image sources that no longer exist

    def labels(self, samples: list[Sample]) -> np.ndarray:
        index = {p: i for i, p in enumerate(self.classes)}
        return np.asarray([index.get(s.product_id, -1) for s in samples], dtype=np.int64)

    def coarse_labels(self, samples: list[Sample]) -> np.ndarray:
        return np.asarray([self.category_of.get(s.product_id, -1) for s in samples], dtype=np.int64)


def catalogue_samples(catalog: TrainingSource, val_items: list[IngestItem] | None, val_fraction: float, seed: int) -> LabelledSet:
    """Catalogue images as samples; validation from `val_items` or carved out of the catalogue."""
    images = catalog.store.get_images()
    products = {p.id: p for p in catalog.products()}
    samples, missing = [], []
    for im in images:
        if im.source and Path(im.source).exists():
            samples.append(Sample(im.sha256, im.source, im.product_id))
        else:
            missing.append(im.source or f"image {im.id}")
    classes = sorted({s.product_id for s in samples})
    if len(classes) < 2:
        raise TrainingError("training needs images of at least 2 products whose source files still exist")
    categories = sorted({products[p].category for p in classes if products[p].category})
    coarse = {c: i for i, c in enumerate(categories)}
    category_of = {p: coarse.get(products[p].category, -1) for p in classes}
    if val_items is not None:
        val = []
        for it in val_items:
            if it.image is None or it.product.id not in products:
                continue
            try:
                sha = content_hash(read_bytes(it.image))
            except OSError:
                continue
            val.append(Sample(sha, str(it.image), it.product.id))
        train = samples
    else:
        rng = np.random.default_rng(seed)
        by_product: dict[str, list[Sample]] = {}
        for s in samples:
            by_product.setdefault(s.product_id, []).append(s)
        train, val = [], []
        for pid in classes:
            group = by_product[pid]
            order = rng.permutation(len(group))
            n_val = int(round(val_fraction * len(group))) if len(group) >= 3 else 0
            n_val = max(n_val, 1) if len(group) >= 3 else 0
            val += [group[i] for i in order[:n_val]]
            train += [group[i] for i in order[n_val:]]
    return LabelledSet(train, val, classes, categories, category_of, missing)
