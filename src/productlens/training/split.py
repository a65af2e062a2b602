"""Validation that can see something: held-out burst groups, or cross-validation over them.

`plan_validation` holds out whole groups (groups.py), never single frames of a burst. A product
needs `MIN_GROUPS` groups to give one away. When too few products can, the run falls back to
cross-validation over groups (each group validated once by a model that did not see it); when
no product has two groups, nothing can be validated honestly and the plan says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MIN_GROUPS = 3  # a product gives groups to validation only if it keeps at least two for training
MIN_VAL_PHOTOS = 20  # fewer held-out photos than this is too small to compare settings on
MIN_VALIDATED_SHARE = 0.5  # ... as is holding out photos of fewer than half the products
FOLDS = 3
SATURATED = 0.99  # a validation score this high from the start cannot rank anything


@dataclass
class ValidationPlan:
    """Which photos validate a run. kind: "photos" (given by the user), "groups" (held-out
    groups), "cross-validation" (folds over groups) or "none"; `notes` say why, plainly."""

    kind: str
    folds: list[tuple[np.ndarray, np.ndarray]]  # (train indices, validation indices) per fold
    groups: int = 0
    products: int = 0
    products_validated: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def train(self) -> np.ndarray:
        """Training photos of a held-out plan (every photo for cross-validation and none)."""
        return self.folds[0][0] if self.kind in ("groups", "photos") else np.arange(0)

    @property
    def val(self) -> np.ndarray:
        return self.folds[0][1] if self.kind in ("groups", "photos") else np.arange(0)

    def describe(self) -> str:
        """What the plan validates on, in a few words (recorded as a calibration's source)."""
        n = int(sum(len(v) for _, v in self.folds))
        return {"photos": f"{n} labelled validation photos", "groups": f"{n} photos of held-out burst groups",
                "cross-validation": f"{n} photos, {len(self.folds)}-fold cross-validation over burst groups",
                "none": "no validation"}[self.kind]

    def to_dict(self) -> dict:
        return {"kind": self.kind, "groups": self.groups, "products": self.products,
                "products_validated": self.products_validated, "folds": len(self.folds),
                "validation_photos": int(sum(len(v) for _, v in self.folds)), "notes": self.notes}


def hold_out_groups(groups: np.ndarray, products: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A boolean mask of the photos in held-out groups: about `fraction` of each product's groups
    (at least one) for products with MIN_GROUPS groups or more."""
    rng = np.random.default_rng(seed)
    held = np.zeros(len(groups), dtype=bool)
    for product in np.unique(products):
        own = np.unique(groups[products == product])
        if len(own) < MIN_GROUPS:
            continue
        n_val = min(len(own) - 2, max(1, int(round(fraction * len(own)))))
        held |= np.isin(groups, rng.choice(own, size=n_val, replace=False))
    return held


def group_folds(groups: np.ndarray, products: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """k folds over groups: each product's groups are dealt round the folds in random order, so a
    fold validates some of every product that has two groups or more."""
    rng = np.random.default_rng(seed)
    fold_of_group: dict[int, int] = {}
    for product in np.unique(products):
        own = rng.permutation(np.unique(groups[products == product]))
        if len(own) < 2:
            continue
        offset = int(rng.integers(k))
        for n, g in enumerate(own.tolist()):
            fold_of_group[g] = (n + offset) % k
    fold = np.array([fold_of_group.get(int(g), -1) for g in groups])
    everything = np.arange(len(groups))
    return [(everything[fold != f], everything[fold == f]) for f in range(k) if (fold == f).any()]


def plan_validation(groups: np.ndarray, product_ids, fraction: float = 0.15, seed: int = 0) -> ValidationPlan:
    """Held-out groups when they are enough; else cross-validation over groups; else none."""
    groups = np.asarray(groups)
    products = np.asarray(product_ids)
    n_products = len(np.unique(products))
    per_product = {p: len(np.unique(groups[products == p])) for p in np.unique(products)}
    common = {"groups": int(len(np.unique(groups))), "products": n_products}
    held = hold_out_groups(groups, products, fraction, seed)
    validated = len(np.unique(products[held]))
    everything = np.arange(len(groups))
    if held.sum() >= MIN_VAL_PHOTOS and validated >= MIN_VALIDATED_SHARE * n_products:
        return ValidationPlan("groups", [(everything[~held], everything[held])], products_validated=validated, **common)
    notes = [f"only {validated} of {n_products} products have {MIN_GROUPS}+ groups of distinct photos "
             f"({int(held.sum())} photos could be held out)"]
    two = sum(1 for n in per_product.values() if n >= 2)
    if two >= 2:
        folds = group_folds(groups, products, FOLDS, seed)
        if len(folds) >= 2:
            notes.append(f"validating by {len(folds)}-fold cross-validation over groups instead")
            return ValidationPlan("cross-validation", folds, products_validated=two, notes=notes, **common)
    notes.append("every product's photos are near-copies of each other (one burst each): nothing can be "
                 "validated honestly; add photos taken at other times, or pass --val with your own photos")
    return ValidationPlan("none", [], notes=notes, **common)
