"""Renaming products (`Catalog.rename_product`, `Catalog.fix_product_ids`): the migration path
for ids stored before the id rule (catalog/ids.py)."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

from ..catalog.ids import fixed_id
from ..catalog.rename import ids_breaking_rule, rename_product
from ..catalog.store import CatalogStore, Product
from ..index import is_remote
from ..index.live import LiveIndex
from ..text import semantic


class RenamingPort(Protocol):
    """What renaming needs of the catalogue (the engine's Catalog is one)."""

    store: CatalogStore

    @property
    def index_kind(self) -> str: ...

    def writing(self) -> AbstractContextManager[None]: ...

    def live_index(self) -> LiveIndex | None: ...


class ProductRenamer:
    """Renames under the catalogue's write lock; a server index's copy of the fields follows."""

    def __init__(self, catalog: RenamingPort) -> None:
        self.catalog, self.store = catalog, catalog.store

    def rename(self, old: str, new: str) -> Product:
        with self.catalog.writing():
            live = self.catalog.live_index() if is_remote(self.catalog.index_kind) else None
            with live.fields_changing([old, new]) if live is not None else nullcontext():
                rename_product(self.store, old, new)
            semantic.sync_on_write(self.store, [new])
        return self.store.get_product(new)

    def fix_all(self, *, dry_run: bool = False) -> dict[str, str]:
        """Rename every stored id the rule does not allow to a close allowed one; old -> new."""
        with self.catalog.writing():
            taken = {p.id for p in self.store.iter_products()}
            plan: dict[str, str] = {}
            for old in ids_breaking_rule(self.store):
                plan[old] = fixed_id(old, taken)
                taken.add(plan[old])
            if not dry_run:
                for old, new in plan.items():
                    self.rename(old, new)
        return plan
