"""What training learns from: the catalogue's images with product (fine) and category (coarse)
labels, and how validation splits them (split.py): labelled photos given from outside the
catalogue, else whole burst groups held out of it, else cross-validation over groups."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..catalog.ingest import IngestItem
from ..catalog.records import Product
from ..errors import ImageError, TrainingError
from ..images import content_hash, read_bytes
from .port import TrainingPort
from .split import ValidationPlan, plan_validation


@dataclass
class Sample:
    sha256: str
    source: str
    product_id: str
    image_id: int | None = None  # the catalogue image (None for validation photos from outside it)


@dataclass
class LabelledSet:
    """The catalogue's usable photos with their labels, and how validation splits them.

    `plan.folds` index `samples` (train) and, for a held-out plan, `samples` again (kind "groups")
    or `photos` (kind "photos": labelled photos given from outside the catalogue)."""

    samples: list[Sample]
    classes: list[str]  # product ids, index = class id
    categories: list[str]  # coarse names, index = coarse id
    plan: ValidationPlan
    photos: list[Sample] = field(default_factory=list)
    category_of: dict[str, int] = field(default_factory=dict)  # product id -> coarse id (-1 none)
    missing: list[str] = field(default_factory=list)  # image sources that no longer exist

    def folds(self) -> list[tuple[list[Sample], list[Sample]]]:
        """(train, validation) photos of each fold: one for a held-out plan, none without validation."""
        pool = self.photos if self.plan.kind == "photos" else self.samples
        return [([self.samples[i] for i in train], [pool[i] for i in val]) for train, val in self.plan.folds]

    @property
    def train(self) -> list[Sample]:
        """All but a held-out plan's validation photos: what the fold model, and the partial and full
        recipes' version, learn from (the head recipe trains its version on every photo after)."""
        return self.folds()[0][0] if self.plan.kind == "groups" else list(self.samples)

    @property
    def val(self) -> list[Sample]:
        """A held-out plan's validation photos (none for cross-validation: see `folds`)."""
        return self.folds()[0][1] if self.plan.kind in ("groups", "photos") else []

    def labels(self, samples: list[Sample]) -> np.ndarray:
        index = {p: i for i, p in enumerate(self.classes)}
        return np.asarray([index.get(s.product_id, -1) for s in samples], dtype=np.int64)

    def coarse_labels(self, samples: list[Sample]) -> np.ndarray:
        return np.asarray([self.category_of.get(s.product_id, -1) for s in samples], dtype=np.int64)


def catalogue_samples(catalog: TrainingPort, val_items: list[IngestItem] | None, val_fraction: float,
                      seed: int) -> LabelledSet:
    """Catalogue photos as samples; validation from `val_items`, else whole burst groups held out
    of the catalogue (split.py), else cross-validation over groups, else none."""
    images, samples, missing = catalog.images(), [], []
    usable = []
    for im in images:
        path = catalog.image_file(im)
        if path is None:
            missing.append(im.source or f"image {im.id}")
            continue
        samples.append(Sample(im.sha256, str(path), im.product_id, im.id))
        usable.append(im)
    products = {p.id: p for p in catalog.products()}
    classes = sorted({s.product_id for s in samples})
    if len(classes) < 2:
        raise TrainingError("training needs images of at least 2 products whose source files still exist")
    categories = sorted({products[p].category for p in classes if products[p].category})
    coarse = {c: i for i, c in enumerate(categories)}
    category_of = {p: coarse.get(products[p].category, -1) for p in classes}
    if val_items is not None:
        photos = _outside_photos(val_items, products)
        plan = ValidationPlan("photos", [(np.arange(len(samples)), np.arange(len(photos)))],
                              products=len(classes), products_validated=len({p.product_id for p in photos}))
        if not photos:
            plan = ValidationPlan("none", [], products=len(classes), notes=["none of the --val photos could be read"])
        return LabelledSet(samples, classes, categories, plan, photos, category_of, missing)
    groups = catalog.photo_groups(usable, seed)
    plan = plan_validation(groups, [s.product_id for s in samples], val_fraction, seed)
    return LabelledSet(samples, classes, categories, plan, [], category_of, missing)


def _outside_photos(val_items: list[IngestItem], products: dict[str, Product]) -> list[Sample]:
    photos = []
    for it in val_items:
        if it.image is None or it.product.id not in products:
            continue
        try:
            sha = content_hash(read_bytes(it.image))
        except (OSError, ImageError):
            continue
        photos.append(Sample(sha, str(it.image), it.product.id))
    return photos
