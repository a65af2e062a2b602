"""The vector index of one model, kept in step with the SQLite store.

SQLite is the truth; the index file is a cache of it, tagged with the store generation it
reflects. On open, and before each search, a stale index is brought up to date by diffing ids
against the store (only the difference is added or removed), so a crash between a committed
write and an index save costs nothing. Saves are atomic (temp file + rename).

Approximate FAISS kinds are compacted from the store's exact vectors once deletes leave too
many tombstones. A remote kind (`milvus://host:port`) has no file: `save` is a no-op, the
collection is diffed against the store on open, and each row carries its product's title,
category and attributes so filters can be pushed down to the server.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from pathlib import Path

import numpy as np

from ..errors import DimensionMismatchError
from ..index import VectorIndex, create_index, is_remote, load_index
from ..index.ann import COMPACT_AT, FaissAnnIndex
from ..index.base import SearchHits
from .store import CatalogStore

log = logging.getLogger(__name__)


def _slug(model_key: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "_", model_key)


class LiveIndex:
    """A model's index plus the bookkeeping that keeps it consistent with the store."""

    def __init__(self, store: CatalogStore, folder: Path, model_key: str, dim: int, kind: str) -> None:
        self.store, self.model_key, self.dim, self.kind = store, model_key, dim, kind
        self.remote = is_remote(kind)
        self.path = Path(folder) / f"{_slug(model_key)}.{_slug(kind)}"
        self.meta_path = self.path.with_suffix(self.path.suffix + ".json")
        self._lock = threading.RLock()
        self.generation = -1
        self.index = self._connect() if self.remote else self._load()
        self.refresh()

    def _connect(self, kind: str | None = None) -> VectorIndex:
        """The catalogue's collection on a server; its name is kept in the store's meta."""
        name = self.store.get_meta(f"collection:{self.model_key}")
        if name is None:
            name = f"productlens_{_slug(self.model_key)}_{os.urandom(4).hex()}".replace(".", "_").replace("-", "_")
            self.store.set_meta({f"collection:{self.model_key}": name})
        return create_index(kind or self.kind, self.dim, collection=name)

    def _payload(self, ids: np.ndarray) -> list[dict] | None:
        """Product fields of each image, for backends that filter on the server."""
        if not self.remote:
            return None
        owner = self.store.image_products(ids.tolist())
        products = {p.id: p for p in self.store.get_products(sorted(set(owner.values())))}
        rows = []
        for i in ids.tolist():
            p = products.get(owner.get(int(i), ""))
            rows.append({"title": p.title, "category": p.category, "attributes": p.attributes} if p else {})
        return rows

    def _add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        payload = self._payload(ids)
        if payload is None:
            self.index.add(ids, vectors)
        else:
            self.index.add(ids, vectors, payload=payload)  # type: ignore[call-arg]

    def _load(self) -> VectorIndex:
        if self.path.exists() and self.meta_path.exists():
            meta = json.loads(self.meta_path.read_text())
            if meta.get("dim") != self.dim:
                raise DimensionMismatchError(
                    f"index {self.path} holds {meta.get('dim')}-d vectors but model {self.model_key} makes {self.dim}-d"
                )
            try:
                index = load_index(self.kind, self.path, self.dim)
                self.generation = int(meta.get("generation", -1))
                return index
            except Exception as exc:  # a damaged cache is rebuilt from the store, never trusted
                log.warning("index %s unreadable (%s); rebuilding from the catalogue", self.path, exc)
        return create_index(self.kind, self.dim)

    def refresh(self) -> bool:
        """Bring the index up to the store's generation; returns True if anything changed."""
        with self._lock:
            current = self.store.generation
            if current == self.generation:
                return False
            stored = self.store.embedding_ids(self.model_key)
            present = self.index.ids()
            stale = np.setdiff1d(present, stored, assume_unique=True)
            missing = np.setdiff1d(stored, present, assume_unique=True)
            if len(stale):
                self.index.remove(stale)
            for ids, vectors in self.store.iter_embeddings(self.model_key, missing.tolist()):
                self._add(ids, vectors)
            if len(stale) or len(missing):
                log.info("index %s: %d added, %d removed to match the catalogue", self.path.name, len(missing), len(stale))
            self.generation = current
            return bool(len(stale) or len(missing))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        with self._lock:
            self._add(np.asarray(ids, dtype=np.int64), vectors)

    def remove(self, ids: np.ndarray) -> None:
        with self._lock:
            index = self.index
            if isinstance(index, FaissAnnIndex) and index.dead_fraction + len(ids) / max(1, len(index)) > COMPACT_AT:
                # compact from the store's exact vectors rather than from compressed codes
                self._remove_and_compact(index, np.asarray(ids, dtype=np.int64))
            else:
                index.remove(np.asarray(ids, dtype=np.int64))

    def _remove_and_compact(self, index: FaissAnnIndex, ids: np.ndarray) -> None:
        kept, vectors = self.store.embeddings(self.model_key, np.setdiff1d(index.ids(), ids).tolist())
        index._rebuild(kept, vectors.reshape(len(kept), self.dim))

    def rebuild(self, kind: str | None = None, **options) -> VectorIndex:
        """Build a fresh index (optionally of another kind) from every embedding in the store."""
        with self._lock:
            kind = kind or self.kind
            remote = is_remote(kind)
            index = self._connect(kind) if remote else create_index(kind, self.dim, **options)
            ids, vectors = (np.empty(0, np.int64), None) if remote else self.store.embeddings(self.model_key)
            if len(ids):
                if isinstance(index, FaissAnnIndex):
                    index._rebuild(ids, vectors)  # trains once on everything, sized for this N
                else:
                    index.add(ids, vectors)
            old = [] if self.remote else [self.path, self.meta_path, self.path.with_name(self.path.name + ".params")]
            self.index, self.kind, self.remote = index, kind, is_remote(kind)
            self.path = self.path.with_name(f"{_slug(self.model_key)}.{_slug(kind)}")
            self.meta_path = self.path.with_suffix(self.path.suffix + ".json")
            for stale in old:  # the previous kind's files; the store can always rebuild them
                if stale != self.path and stale != self.meta_path:
                    stale.unlink(missing_ok=True)
            self.generation = -1 if remote else self.store.generation
            self.refresh()  # a server collection is filled by diffing ids against the store
            return index

    def search(self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None) -> SearchHits:
        self.refresh()
        with self._lock:
            return self.index.search(queries, k, allowed_ids=allowed_ids)

    def __len__(self) -> int:
        return len(self.index)

    def save(self) -> None:
        """Persist atomically, tagged with the generation it now reflects (no-op for a server)."""
        with self._lock:
            self.refresh()
            if self.remote:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.index.save(self.path)
            meta = {"model_key": self.model_key, "dim": self.dim, "kind": self.kind,
                    "generation": self.generation, "count": len(self.index)}
            tmp = self.meta_path.with_name(f".{self.meta_path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(meta))
            os.replace(tmp, self.meta_path)
