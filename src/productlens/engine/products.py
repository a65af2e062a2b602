"""Every product at the store's current generation, and the one place products are filtered.

Search, listing, text search and recognition all filter through `ProductView.matching` /
`ProductView.allows`, so a filter means the same thing everywhere.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import cached_property

from .. import budget
from ..catalog.store import CatalogStore, Product
from ..filters import Filter, field_kinds

CHECK_EVERY = 2048  # products filtered between two looks at the time budget


@dataclass
class ProductView:
    """Every product at one store generation, plus what filtering derives from them (lazily)."""

    generation: int
    products: list[Product]

    @cached_property
    def by_id(self) -> dict[str, Product]:
        return {p.id: p for p in self.products}

    @cached_property
    def kinds(self) -> dict[str, frozenset[str]]:
        """Value kinds per field, which decide whether a filter can be pushed down to a server index."""
        return field_kinds({"title": p.title, "category": p.category, "attributes": p.attributes} for p in self.products)

    def matching(self, flt: Filter | None, exclude: Collection[str] = ()) -> list[Product]:
        """Products that match `flt` (all of them for None), less the `exclude`d ids; within the
        request's time budget (budget.py)."""
        out = []
        for start in range(0, len(self.products), CHECK_EVERY):
            budget.check("filtering products")
            out += [p for p in self.products[start : start + CHECK_EVERY] if p.id not in exclude and self.match(p, flt)]
        return out

    def allows(self, flt: Filter | None) -> Callable[[str], bool] | None:
        """A predicate over product ids for `flt`; None when everything is allowed."""
        if flt is None:
            return None
        return {p.id for p in self.matching(flt)}.__contains__

    def match(self, product: Product | str, flt: Filter | None) -> bool:
        """Whether one product (or product id; unknown ids never match) passes `flt`."""
        if isinstance(product, str):
            found = self.by_id.get(product)
            if found is None:
                return False
            product = found
        return flt is None or flt.matches(product.to_dict())


class ProductCache:
    """The current `ProductView`, re-read from the store only after a write (a new generation)."""

    def __init__(self, store: CatalogStore) -> None:
        self.store = store
        self._view: ProductView | None = None
        self._lock = threading.Lock()

    def allows(self, flt: Filter | None) -> Callable[[str], bool] | None:
        """`ProductView.allows` of the current view; without a filter no product is even read."""
        return None if flt is None else self.view().allows(flt)

    def first_images(self, product_ids: Sequence[str]) -> dict[str, int]:
        """product id -> its first image's id, for thumbnails (products without images are left
        out); read from the store each time, not cached."""
        return self.store.first_images(product_ids)

    def view(self) -> ProductView:
        generation = self.store.generation
        with self._lock:
            if self._view is None or self._view.generation != generation:
                self._view = ProductView(generation, self.store.iter_products())
            return self._view
