"""The vector index of one model, kept in step with the SQLite store.

SQLite is the truth; the index file is a cache of it, tagged with the store generation it
reflects. On open, and before each search, a stale index is brought up to date by diffing ids
against the store (only the difference is added or removed), so a crash between a committed
write and an index save costs nothing. Saves are atomic (temp file + rename).

Approximate FAISS kinds are compacted from the store's exact vectors once deletes leave too
many tombstones. A server kind (`milvus://host:port`) has no file: `save` is a no-op, the
collection is diffed against the store on open, and each row carries its product's title,
category and attributes so filters can be pushed down to the server; product edits re-send
those fields (`fields_changing`). An in-memory kind (the test fake) is rebuilt on every open.

A model's vectors may be reduced by a PCA fitted on the catalogue (`index build --reduce N`).
The reducer is part of how this catalogue embeds, not a cache, so its file lives in `models/`
and the store's meta names it (`reducer:<model key>`); every vector added and every query is
reduced, the index holds N-d vectors, and its file records which reducer it was built with.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import DimensionMismatchError, VectorIndexError
from .base import Payload, SearchHits, VectorIndex
from .compress import PcaReducer
from .registry import create_index, kind_entry, load_index
from .rerank import rerank_exact

log = logging.getLogger(__name__)

REDUCER_META = "reducer:{}"  # store meta: the model's PCA reducer ({"file", "dim", "whiten"})
PENDING_META = "fields_pending:{}"  # store meta: products whose fields a server index must be sent again
RERANK_META = "rerank:{}"  # store meta: candidates re-scored exactly per query (compressed or reduced indexes)
DEFAULT_RERANK = 64  # enough for recall@10 >= 0.95 at 1M vectors (benchmarks/bench_index.py)
FIT_MAX = 100_000  # stored vectors a reducer is fitted on at most (a uniform sample beyond)
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

    def embedding_ids(self, model_key: str) -> np.ndarray: ...

    def embeddings(self, model_key: str, image_ids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]: ...

    def iter_embeddings(self, model_key: str, image_ids: Sequence[int] | None = None,
                        batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]: ...

    def image_products(self, image_ids: Sequence[int]) -> dict[int, str]: ...

    def image_ids_of_products(self, product_ids: Sequence[str]) -> np.ndarray: ...

    def get_products(self, product_ids: Sequence[str]) -> Sequence[ProductFields]: ...


def _slug(model_key: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "_", model_key)


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
        self.reducer, self.reducer_file = self._load_reducer()
        self.dim = self.reducer.out_dim if self.reducer is not None else dim
        self.path = Path(folder) / f"{_slug(model_key)}.{_slug(kind)}"
        self.meta_path = self.path.with_suffix(self.path.suffix + ".json")
        self._lock = threading.RLock()
        self.generation = -1
        self.index = self._open()
        stored_depth = self.store.get_meta(RERANK_META.format(model_key))
        self._rerank = None if stored_depth is None else int(stored_depth)
        self.refresh()
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
        key = RERANK_META.format(self.model_key)
        if depth is None:
            self.store.delete_meta([key])
        else:
            self.store.set_meta({key: str(int(depth))})
        self._rerank = depth

    def _exact_vectors(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.store.embeddings(self.model_key, ids.tolist())

    # --- reduction -------------------------------------------------------------------------

    def _load_reducer(self) -> tuple[PcaReducer | None, str | None]:
        """(reducer, its file) as the store's meta names them; the reducer is None for full
        vectors, and also when its file is unusable (a warning; the file name is kept so that
        the next `rebuild` replaces or drops it)."""
        raw = self.store.get_meta(REDUCER_META.format(self.model_key))
        if not raw:
            return None, None
        name = json.loads(raw)["file"]
        if self.remote:
            log.warning("%s holds full vectors; the PCA reduction %s is not used with it", self.kind, name)
            return None, name
        try:
            reducer = PcaReducer.load(self.root / name)
        except VectorIndexError as exc:  # the index is then rebuilt over full vectors, still correct
            log.warning("%s; searching full vectors until `index build` is run again", exc)
            return None, name
        if reducer.in_dim != self.model_dim:
            raise DimensionMismatchError(
                f"reducer {name} takes {reducer.in_dim}-d vectors but model {self.model_key} makes {self.model_dim}-d"
            )
        return reducer, name

    def fit_reducer(self, dim: int, *, whiten: bool = False, seed: int = 0) -> PcaReducer:
        """A PCA to `dim` fitted on the model's stored vectors (a sample of FIT_MAX at most); not applied yet."""
        ids = self.store.embedding_ids(self.model_key)
        if len(ids) > FIT_MAX:
            picked = np.sort(np.random.default_rng(seed).choice(ids, FIT_MAX, replace=False))
            _, vectors = self.store.embeddings(self.model_key, picked.tolist())
        else:
            _, vectors = self.store.embeddings(self.model_key)
        return PcaReducer.fit(vectors, dim, whiten=whiten)

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
        meta = json.loads(self.store.get_meta(REDUCER_META.format(self.model_key)) or "{}")
        return {"dim": self.reducer.out_dim, "from_dim": self.model_dim, "whiten": bool(meta.get("whiten")),
                "file": self.reducer_file}

    def _switch_reducer(self, reducer: PcaReducer | None, whiten: bool) -> None:
        """Make `reducer` (or none) the model's: new file first, then the store's meta, then drop the old file."""
        key, old = REDUCER_META.format(self.model_key), self.reducer_file
        name = None
        if reducer is None:
            self.store.delete_meta([key])
        else:
            if reducer.in_dim != self.model_dim:
                raise DimensionMismatchError(f"reducer takes {reducer.in_dim}-d vectors; the model makes {self.model_dim}-d")
            name = f"models/{_slug(self.model_key)}.pca{reducer.out_dim}-{os.urandom(4).hex()}.npz"
            (self.root / name).parent.mkdir(parents=True, exist_ok=True)
            reducer.save(self.root / name)
            self.store.set_meta({key: json.dumps({"file": name, "dim": reducer.out_dim, "whiten": whiten})})
        if old is not None and old != name:
            (self.root / old).unlink(missing_ok=True)
        self.reducer, self.reducer_file = reducer, name
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
        name = self.store.get_meta(f"collection:{self.model_key}")
        if name is None:
            name = f"productlens_{_slug(self.model_key)}_{os.urandom(4).hex()}".replace(".", "_").replace("-", "_")
            self.store.set_meta({f"collection:{self.model_key}": name})
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
        if self.path.exists() and self.meta_path.exists():
            meta = json.loads(self.meta_path.read_text())
            if meta.get("reducer") != self.space:  # built in another space: a stale cache
                log.info("index %s was built with another reduction; rebuilding from the catalogue", self.path)
                return create_index(self.kind, self.dim)
            if meta.get("dim") != self.dim:
                reduced = f" (reduced from {self.model_dim}-d)" if self.reducer is not None else ""
                raise DimensionMismatchError(
                    f"index {self.path} holds {meta.get('dim')}-d vectors but model {self.model_key} "
                    f"makes {self.dim}-d{reduced}"
                )
            try:
                index = load_index(self.kind, self.path, self.dim)
                self.generation = int(meta.get("generation", -1))
                return index
            except Exception as exc:  # a damaged cache is rebuilt from the store, never trusted
                log.warning("index %s unreadable (%s); rebuilding from the catalogue", self.path, exc)
        return create_index(self.kind, self.dim)

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
        key = PENDING_META.format(self.model_key)
        pending = set(json.loads(self.store.get_meta(key) or "[]")) | set(product_ids)
        self.store.set_meta({key: json.dumps(sorted(pending))})
        yield
        self.sync_fields()

    def sync_fields(self) -> int:
        """Re-send the rows whose stored product fields differ from the products recorded as
        changed (a server index only); returns how many rows were re-sent."""
        key = PENDING_META.format(self.model_key)
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
        """
        with self._lock:
            kind = kind or self.kind
            entry = kind_entry(kind)
            remote = entry.remote
            reducer = self.reducer if reducer is _KEEP else reducer
            if reducer is not None:
                refuse_remote_reduction(kind)
            if reducer is not self.reducer or (reducer is None and self.reducer_file is not None):
                self._switch_reducer(reducer, whiten)
            index = self._connect(kind) if remote else create_index(kind, self.dim, **options)
            ids, vectors = (np.empty(0, np.int64), None) if remote else self.store.embeddings(self.model_key)
            if len(ids):
                index.load_rows(ids, self.reduce(vectors))  # an index that trains does it once, sized for this N
            old = [self.path, self.meta_path, self.path.with_name(self.path.name + ".params")] if self.persistent else []
            self.index, self.kind, self.remote, self.persistent = index, kind, remote, entry.persistent
            self.path = self.path.with_name(f"{_slug(self.model_key)}.{_slug(kind)}")
            self.meta_path = self.path.with_suffix(self.path.suffix + ".json")
            for stale in old:  # the previous kind's files; the store can always rebuild them
                if stale != self.path and stale != self.meta_path:
                    stale.unlink(missing_ok=True)
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

    def describe(self) -> dict[str, Any]:
        """Kind, size, dimensions, reduction, re-ranking and file of the index (for `index info`)."""
        info = {**self.index.describe(), "kind": self.kind, "count": len(self), "dim": self.dim,
                "reduce": self.reduction(), "rerank": self.rerank_depth, "file": str(self.path) if self.persistent else None}
        if self.persistent and self.path.exists():
            info["file_bytes"] = self.path.stat().st_size
        return info

    def save(self) -> None:
        """Persist atomically, tagged with the generation and reducer it reflects (no-op for a
        server or an in-memory index)."""
        with self._lock:
            self.refresh()
            if not self.persistent:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.index.save(self.path)
            meta = {"model_key": self.model_key, "dim": self.dim, "model_dim": self.model_dim,
                    "reducer": self.space, "kind": self.kind, "generation": self.generation,
                    "count": len(self.index)}
            tmp = self.meta_path.with_name(f".{self.meta_path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(meta))
            os.replace(tmp, self.meta_path)
