"""The vector index of one model, kept in step with the SQLite store.

SQLite is the truth; the index file is a cache of it, tagged with the store generation it
reflects. On open, and before each search, a stale index is brought up to date by diffing ids
against the store (only the difference is added or removed), so a crash between a committed
write and an index save costs nothing. Saves are atomic (temp file + rename).
An index file is a cache and is never trusted blindly: unreadable metadata, a vector count
that differs from the metadata's or (at the same generation) from the store's, another model,
kind, width or reduction: any of these and it is rebuilt from the store, and `repaired` tells
the owner to save it (engine: under the write lock, when free), so the rebuild is done once.

Approximate FAISS kinds are compacted from the store's exact vectors once deletes leave too
many tombstones. A server kind (`milvus://host:port`) has no file: `save` is a no-op, the
collection is diffed against the store on open, and each row carries its product's title,
category and attributes so filters can be pushed down to the server; product edits re-send
those fields (`fields_changing`). An in-memory kind (the test fake) is rebuilt on every open.

A model's vectors may be reduced by a PCA fitted on the catalogue (`index build --reduce N`,
reduction.py): every vector added and every query is reduced, the index holds N-d vectors, and
its file records which reducer it was built with. `rebuild` changes nothing in the store: the
`save` after it writes the file, then records kind, reducer and re-rank depth in one store
write, so a build killed half-way leaves the catalogue as it was.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .. import meta_keys
from ..atomic import remove_stale_temp_files, write_text
from ..errors import DimensionMismatchError, VectorIndexError
from .base import Payload, SearchHits, VectorIndex
from .compress import PcaReducer
from .reduction import fit_reducer, load_reducer, recorded, remove_unreferenced, save_reducer, slug
from .registry import create_index, kind_entry, load_index
from .rerank import rerank_exact

log = logging.getLogger(__name__)

DEFAULT_RERANK = 64  # enough for recall@10 >= 0.95 at 1M vectors (benchmarks/bench_index.py)
_KEEP = object()  # rebuild(reducer=...) default: keep the current reduction


class ProductFields(Protocol):
    """A product as far as a server index stores it."""

    id: str
    title: str
    category: str | None
    attributes: dict[str, Any]


class EmbeddingStore(Protocol):
    """What the live index reads from the catalogue's store (catalog.store.CatalogStore is one)."""

    @property
    def generation(self) -> int: ...

    def get_meta(self, key: str, default: str | None = None) -> str | None: ...

    def set_meta(self, values: dict[str, str]) -> None: ...

    def delete_meta(self, keys: Sequence[str]) -> None: ...

    def update_meta(self, values: dict[str, str], delete: Sequence[str]) -> None: ...

    def count_embeddings(self, model_key: str) -> int: ...

    def embedding_ids(self, model_key: str) -> np.ndarray: ...

    def embeddings(self, model_key: str, image_ids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]: ...

    def iter_embeddings(self, model_key: str, image_ids: Sequence[int] | None = None,
                        batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]: ...

    def image_products(self, image_ids: Sequence[int]) -> dict[int, str]: ...

    def image_ids_of_products(self, product_ids: Sequence[str]) -> np.ndarray: ...

    def get_products(self, product_ids: Sequence[str]) -> Sequence[ProductFields]: ...


def refuse_remote_reduction(kind: str) -> None:
    """Raise VectorIndexError for a server kind: Milvus holds full vectors, a PCA reduction is for FAISS kinds."""
    if kind_entry(kind).remote:
        raise VectorIndexError(f"{kind} holds full vectors: --reduce applies to FAISS kinds only (build without it)")


class LiveIndex:
    """A model's index plus the bookkeeping that keeps it consistent with the store.

    `model_dim` is the model's embedding width; `dim` the index's (smaller when reduced).
    Callers always pass model-space vectors: adds and queries are reduced here.
    """

    def __init__(self, store: EmbeddingStore, folder: Path, model_key: str, dim: int, kind: str) -> None:
        self.store, self.model_key, self.model_dim, self.kind = store, model_key, dim, kind
        entry = kind_entry(kind)
        self.remote, self.persistent = entry.remote, entry.persistent
        self.root = Path(folder).parent  # the catalogue folder: reducer paths are relative to it
        self.reducer, self.reducer_file = load_reducer(store, self.root, model_key, dim, self.remote)
        self.whiten = bool((recorded(store, model_key) or {}).get("whiten"))
        self.dim = self.reducer.out_dim if self.reducer is not None else dim
        self.path = Path(folder) / f"{slug(model_key)}.{slug(kind)}"
        self.meta_path = self.path.with_suffix(self.path.suffix + ".json")
        self._lock = threading.RLock()
        self.generation = -1
        self.repaired = False  # rebuilt or caught up on open: the file is worth saving (see the module doc)
        self._unrecorded: dict[str, Any] | None = None  # what a `rebuild` changed, recorded by the next `save`
        self.index = self._open()
        stored_depth = self.store.get_meta(meta_keys.RERANK.format(model_key))
        self._rerank = None if stored_depth is None else int(stored_depth)
        if self.generation == self.store.generation and len(self.index) != self.store.count_embeddings(model_key):
            log.warning("index %s holds %d vectors but the catalogue has %d; bringing it up to date",
                        self.path, len(self.index), self.store.count_embeddings(model_key))
            self.generation, self.repaired = -1, True
        self.repaired |= self.refresh() and self.persistent
        if self.index.server_filter:
            self.sync_fields()  # edits a crash kept from the server

    # --- exact re-ranking -------------------------------------------------------------------

    @property
    def rerank_depth(self) -> int:
        """Candidates per query re-scored with the store's exact vectors: 0 unless the index holds
        compressed codes or reduced vectors.

        Compressed codes and reduced vectors mis-order near neighbours; the store holds the exact
        vectors on disk anyway, so re-reading a few dozen per query costs no memory (rerank.py).
        """
        if not self.index.lossy and self.reducer is None:
            return 0  # full vectors: the index's scores are exact already
        return DEFAULT_RERANK if self._rerank is None else self._rerank

    def set_rerank(self, depth: int | None) -> None:
        """Re-rank this many candidates exactly (0: never; None: the default for the kind)."""
        if depth is not None and depth < 0:
            raise VectorIndexError(f"re-rank depth must be >= 0, not {depth}")
        self._rerank = depth
        if self._unrecorded is not None:
            self._unrecorded["rerank"] = True  # recorded with the rebuild it belongs to
            return
        key = meta_keys.RERANK.format(self.model_key)
        if depth is None:
            self.store.delete_meta([key])
        else:
            self.store.set_meta({key: str(int(depth))})

    def _exact_vectors(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.store.embeddings(self.model_key, ids.tolist())

    # --- reduction -------------------------------------------------------------------------

    def fit_reducer(self, dim: int, *, whiten: bool = False, seed: int = 0) -> PcaReducer:
        """A PCA to `dim` fitted on the model's stored vectors; not applied yet (see `rebuild`)."""
        return fit_reducer(self.store, self.model_key, dim, whiten=whiten, seed=seed)

    def reduce(self, vectors: np.ndarray) -> np.ndarray:
        """Model-space vectors as this index holds them: PCA-reduced when a reducer is set."""
        if self.reducer is None:
            return vectors
        return self.reducer.apply(np.asarray(vectors, np.float32).reshape(-1, self.model_dim))

    @property
    def space(self) -> str | None:
        """The reducer file the index's vectors are reduced with; None for full vectors."""
        return self.reducer_file if self.reducer is not None else None

    def reduction(self) -> dict[str, Any] | None:
        """What the reduction is (for `index info`), or None for full vectors."""
        if self.reducer is None:
            return None
        return {"dim": self.reducer.out_dim, "from_dim": self.model_dim, "whiten": self.whiten, "file": self.reducer_file}

    def _use_reducer(self, reducer: PcaReducer | None, whiten: bool) -> None:
        """Make `reducer` (or none) this index's, its file written under a fresh name; the store
        names it only when the rebuild is saved."""
        if reducer is not None and reducer.in_dim != self.model_dim:
            raise DimensionMismatchError(f"reducer takes {reducer.in_dim}-d vectors; the model makes {self.model_dim}-d")
        name = save_reducer(self.root, self.model_key, reducer) if reducer is not None else None
        self.reducer, self.reducer_file, self.whiten = reducer, name, whiten and reducer is not None
        self.dim = reducer.out_dim if reducer is not None else self.model_dim

    # --- backends --------------------------------------------------------------------------

    def _open(self) -> VectorIndex:
        if self.remote:
            return self._connect()
        if self.persistent:
            return self._load()
        return create_index(self.kind, self.dim)  # in memory only: `refresh` fills it from the store

    def _connect(self, kind: str | None = None) -> VectorIndex:
        """The catalogue's collection on a server; its name is kept in the store's meta."""
        name = self.store.get_meta(meta_keys.COLLECTION.format(self.model_key))
        if name is None:
            name = f"productlens_{slug(self.model_key)}_{os.urandom(4).hex()}".replace(".", "_").replace("-", "_")
            self.store.set_meta({meta_keys.COLLECTION.format(self.model_key): name})
        return create_index(kind or self.kind, self.dim, collection=name)

    def _payload(self, ids: np.ndarray) -> Payload | None:
        """Product fields of each image, for backends that filter on the server."""
        if not self.index.server_filter:
            return None
        owner = self.store.image_products(ids.tolist())
        products = {p.id: p for p in self.store.get_products(sorted(set(owner.values())))}
        rows = []
        for i in ids.tolist():
            p = products.get(owner.get(int(i), ""))
            rows.append({"title": p.title, "category": p.category, "attributes": p.attributes} if p else {})
        return rows

    def _add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add model-space vectors (reduced here), with product fields for a server."""
        self.index.add(ids, self.reduce(vectors), payload=self._payload(ids))

    def _load(self) -> VectorIndex:
        """The saved index when its file and metadata agree with each other and with this model;
        otherwise (with a warning) an empty one that `refresh` fills from the store."""
        if not self.path.exists():
            self.repaired = self.meta_path.exists()
            return create_index(self.kind, self.dim)
        try:
            meta = self._read_meta()
            problem = self._mismatch(meta)
            if problem is None:
                index = load_index(self.kind, self.path, self.dim)
                if len(index) == meta["count"]:
                    self.generation = meta["generation"]
                    return index
                problem = f"it holds {len(index)} vectors but its metadata says {meta['count']}"
        except VectorIndexError as exc:
            problem = str(exc)
        log.warning("index %s is not usable (%s); rebuilding it from the catalogue", self.path, problem)
        self.repaired = True
        return create_index(self.kind, self.dim)

    def _read_meta(self) -> dict[str, Any]:
        try:
            meta = json.loads(self.meta_path.read_text())
            if not isinstance(meta, dict) or not all(isinstance(meta.get(k), int) for k in ("dim", "count", "generation")):
                raise ValueError("fields missing")
            return meta
        except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise VectorIndexError(f"unreadable metadata {self.meta_path.name}: {exc}") from exc

    def _mismatch(self, meta: dict[str, Any]) -> str | None:
        """Why a saved index does not belong to this model, kind and reduction; None when it does."""
        if meta.get("model_key", self.model_key) != self.model_key or meta.get("kind", self.kind) != self.kind:
            return f"it was built for {meta.get('model_key')} ({meta.get('kind')})"
        if meta.get("reducer") != self.space:
            return "it was built with another reduction"
        if meta["dim"] != self.dim:
            reduced = f" (reduced from {self.model_dim}-d)" if self.reducer is not None else ""
            return f"it holds {meta['dim']}-d vectors but model {self.model_key} makes {self.dim}-d{reduced}"
        return None

    # --- keeping in step with the store ----------------------------------------------------

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

    @contextmanager
    def fields_changing(self, product_ids: Sequence[str]) -> Iterator[None]:
        """Wrap a write to these products' fields: a server index gets them re-sent afterwards.

        The ids are recorded in the store first, so a crash between the write and the re-send is
        repaired on the next open. A no-op for kinds that hold no product fields (FAISS).
        """
        if not self.index.server_filter or not product_ids:
            yield
            return
        key = meta_keys.FIELDS_PENDING.format(self.model_key)
        pending = set(json.loads(self.store.get_meta(key) or "[]")) | set(product_ids)
        self.store.set_meta({key: json.dumps(sorted(pending))})
        yield
        self.sync_fields()

    def sync_fields(self) -> int:
        """Re-send the rows whose stored product fields differ from the products recorded as
        changed (a server index only); returns how many rows were re-sent."""
        key = meta_keys.FIELDS_PENDING.format(self.model_key)
        raw = self.store.get_meta(key) if self.index.server_filter else None
        if not raw:
            return 0
        with self._lock:
            ids = np.intersect1d(self.store.image_ids_of_products(json.loads(raw)), self.store.embedding_ids(self.model_key))
            held = self.index.fields(ids)
            wanted = dict(zip(ids.tolist(), self._payload(ids) or []))
            changed = [i for i, fields in wanted.items() if i in held and held[i] != self.index.stored_fields(fields)]
            for chunk_ids, vectors in self.store.iter_embeddings(self.model_key, changed):
                self._add(chunk_ids, vectors)
            self.store.delete_meta([key])
            return len(changed)

    # --- writing and searching -------------------------------------------------------------

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add (or replace) rows; `vectors` are the model's, reduced here if the index is."""
        with self._lock:
            self._add(np.asarray(ids, dtype=np.int64), vectors)

    def remove(self, ids: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        with self._lock:
            if self.index.compaction_due(len(ids)):
                # compact from the store's exact vectors rather than from compressed codes
                kept, vectors = self.store.embeddings(self.model_key, np.setdiff1d(self.index.ids(), ids).tolist())
                self.index.load_rows(kept, self.reduce(vectors.reshape(len(kept), self.model_dim)))
            else:
                self.index.remove(ids)

    def rebuild(self, kind: str | None = None, *, reducer: Any = _KEEP, whiten: bool = False, **options) -> VectorIndex:
        """Build a fresh index (optionally of another kind) from every embedding in the store.

        `reducer`: a fitted PcaReducer to switch to (see `fit_reducer`; `whiten` is recorded
        with it), None for full vectors, or left out to keep the current reduction. A server
        kind (Milvus) holds full vectors only: asking it for a reduction raises VectorIndexError.
        The store still names the old kind and reduction until `save` (see the module doc): an
        owner whose rebuild fails drops this object and opens the index again.
        """
        with self._lock:
            kind = kind or self.kind
            entry = kind_entry(kind)
            remote = entry.remote
            reducer = self.reducer if reducer is _KEEP else reducer
            if reducer is not None:
                refuse_remote_reduction(kind)
            retired = self._unrecorded["retired"] if self._unrecorded else []
            if reducer is not self.reducer or (reducer is None and self.reducer_file is not None):
                retired.append(self.root / self.reducer_file if self.reducer_file else None)
                self._use_reducer(reducer, whiten)
            index = self._connect(kind) if remote else create_index(kind, self.dim, **options)
            ids, vectors = (np.empty(0, np.int64), None) if remote else self.store.embeddings(self.model_key)
            if len(ids):
                index.load_rows(ids, self.reduce(vectors))  # an index that trains does it once, sized for this N
            if self.persistent:
                retired += [self.path, self.meta_path, self.path.with_name(self.path.name + ".params")]
            self.index, self.kind, self.remote, self.persistent = index, kind, remote, entry.persistent
            self.path = self.path.with_name(f"{slug(self.model_key)}.{slug(kind)}")
            self.meta_path = self.path.with_suffix(self.path.suffix + ".json")
            self._unrecorded = {"retired": retired, "rerank": (self._unrecorded or {}).get("rerank", False)}
            self.generation = -1 if remote else self.store.generation
            self.refresh()  # a server collection is filled by diffing ids against the store
            return index

    def search(self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None, *,
               expression: str | None = None) -> SearchHits:
        """Top-k image ids for model-space queries. `expression` is a filter over the rows' product
        fields and image `id` that a `server_filter` index evaluates (VectorIndexError otherwise)."""
        self.refresh()
        with self._lock:
            depth = self.rerank_depth
            fetch = max(k, depth) if depth and k > 0 else k
            hits = self.index.search(self.reduce(queries), fetch, allowed_ids=allowed_ids, expression=expression)
            if depth and k > 0:
                queries = np.asarray(queries, np.float32).reshape(-1, self.model_dim)
                hits = rerank_exact(queries, hits, self._exact_vectors, k)
            return hits

    def __len__(self) -> int:
        return len(self.index)

    def count(self) -> int:
        """Vectors in the index once caught up with the store (another process may have written)."""
        self.refresh()
        return len(self.index)

    def describe(self) -> dict[str, Any]:
        """Kind, size, dimensions, reduction, re-ranking and file of the index (for `index info`)."""
        info = {**self.index.describe(), "kind": self.kind, "count": len(self), "dim": self.dim,
                "reduce": self.reduction(), "rerank": self.rerank_depth, "file": str(self.path) if self.persistent else None}
        if self.persistent and self.path.exists():
            info["file_bytes"] = self.path.stat().st_size
        return info

    def save(self, meta: dict[str, str] | None = None) -> None:
        """Persist the index atomically, tagged with the generation and reducer it reflects (no file
        for a server or an in-memory index). After a `rebuild`, then record in one store write its
        kind, reduction and re-rank depth, with `meta` (the engine's `index_kind`), and remove the
        files it replaced. Call under the catalogue's write lock."""
        with self._lock:
            self.refresh()
            if self.persistent:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                remove_stale_temp_files(self.path.parent)
                self.index.save(self.path)
                write_text(self.meta_path, json.dumps({
                    "model_key": self.model_key, "dim": self.dim, "model_dim": self.model_dim, "reducer": self.space,
                    "kind": self.kind, "generation": self.generation, "count": len(self.index)}))
                self.repaired = False
            if self._unrecorded is None:
                if meta:
                    self.store.set_meta(meta)
                return
            self._record(meta or {})

    def _record(self, meta: dict[str, str]) -> None:
        reducer_key, rerank_key = meta_keys.REDUCER.format(self.model_key), meta_keys.RERANK.format(self.model_key)
        values, delete = dict(meta), []
        if self.reducer_file is not None and self.reducer is not None:
            values[reducer_key] = json.dumps({"file": self.reducer_file, "dim": self.dim, "whiten": self.whiten})
        else:
            delete.append(reducer_key)
        if self._unrecorded and self._unrecorded["rerank"]:
            if self._rerank is None:
                delete.append(rerank_key)
            else:
                values[rerank_key] = str(int(self._rerank))
        self.store.update_meta(values, delete)
        for stale in self._unrecorded["retired"] if self._unrecorded else []:
            if stale is not None and stale not in (self.path, self.meta_path, self.path.with_name(self.path.name + ".params")):
                stale.unlink(missing_ok=True)
        remove_unreferenced(self.root, self.model_key, self.reducer_file if self.reducer is not None else None)
        self._unrecorded = None
