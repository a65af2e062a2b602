"""Renaming a stored product: the migration path for ids kept from before the id rule (ids.py)."""

from __future__ import annotations

from ..errors import InvalidProductIdError, ProductNotFoundError
from .ids import check_product_id, id_problem
from .store import CatalogStore


def rename_product(store: CatalogStore, old: str, new: str) -> None:
    """Give a stored product a new id (allowed by the rule), its images, text and filter rows
    following, in one transaction."""
    check_product_id(new)
    with store.transaction() as db:
        if db.execute("SELECT 1 FROM products WHERE id = ?", (old,)).fetchone() is None:
            raise ProductNotFoundError(f"no product with id {old!r}")
        if db.execute("SELECT 1 FROM products WHERE id = ?", (new,)).fetchone() is not None:
            raise InvalidProductIdError(f"a product with id {new!r} already exists")
        db.execute("PRAGMA defer_foreign_keys = ON")  # images point at the old id until the next line
        db.execute("UPDATE products SET id = ? WHERE id = ?", (new, old))
        db.execute("UPDATE images SET product_id = ? WHERE product_id = ?", (new, old))


def ids_breaking_rule(store: CatalogStore) -> list[str]:
    """Stored ids the rule does not allow (kept from before it): `productlens rename --fix-ids` mends them."""
    return [p.id for p in store.iter_products() if id_problem(p.id) is not None]
