"""Renaming products (`Catalog.renamer`: `rename`, `fix_all`): the migration path
for ids stored before the id rule (catalog/ids.py)."""

from __future__ import annotations

from contextlib import nullcontext

from ..catalog.ids import fixed_id
from ..catalog.rename import ids_breaking_rule, rename_product
from ..catalog.store import CatalogStore, Product
from ..index import is_remote
from ..text import semantic
from ..text.port import TextVectorsOnWrite
from .indexing import IndexService
from .lifecycle import WriteLock


class ProductRenamer:
    """Renames under the catalogue's write lock; text vectors and a server index's copy of the
    fields follow."""

    def __init__(self, store: CatalogStore, lock: WriteLock, index: IndexService, text_vectors: TextVectorsOnWrite) -> None:
        self.store, self.lock, self.index, self.text_vectors = store, lock, index, text_vectors

    def rename(self, old: str, new: str) -> Product:
        with self.lock.hold():
            live = self.index.live() if is_remote(self.index.kind) else None
            # both ids: the server index's rows are found by the new id once renamed
            with live.fields_changing([old, new]) if live is not None else nullcontext():
                rename_product(self.store, old, new)
            semantic.sync_on_write(self.text_vectors, [new])
        return self.store.get_product(new)

    def fix_all(self, *, dry_run: bool = False) -> dict[str, str]:
        """Rename every stored id the rule does not allow to a close allowed one; old -> new."""
        with self.lock.hold():
            taken = {p.id for p in self.store.iter_products()}
            plan: dict[str, str] = {}
            for old in ids_breaking_rule(self.store):
                plan[old] = fixed_id(old, taken)
                taken.add(plan[old])
            if not dry_run:
                for old, new in plan.items():
                    self.rename(old, new)
        return plan
