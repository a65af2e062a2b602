"""Approximate FAISS backends (HNSW, IVF-PQ), with incremental add and delete.

The FAISS index holds vectors at internal positions; `_labels[pos]` is the catalogue id there,
or -1 for a tombstone. Deleting or replacing an id only writes a tombstone (HNSW cannot remove
from its graph), searches skip tombstones through an IDSelector, and `compact()` rebuilds once
they pass `COMPACT_AT` of the rows. Until `train_size` vectors have arrived, a kind that needs
training (IVF, PCA) keeps them in an exact flat index and searches exactly; on reaching it the
vectors move into the trained index. On disk the positions-to-ids map travels inside the FAISS
file as an IndexIDMap2, so one atomic rename saves everything, and loading can memory-map it.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from ..atomic import atomic_file, write_text
from ..errors import VectorIndexError
from .base import Payload, SearchHits, VectorIndex, as_ids, as_pairs, empty_hits, last_of_each, top_k_exact

log = logging.getLogger(__name__)

COMPACT_AT = 0.25  # tombstones over this fraction of the rows trigger a rebuild
EXACT_FILTER_MAX = 4096  # a filter this small is scored exactly on reconstructed vectors


def ivfpq_factory(n: int, dim: int) -> str:
    """An IVF-PQ factory string sized for n vectors: PCA to <=240-d, PQ codes, SQ8 re-ranking.

    nlist ~ 4 sqrt(n) (with >= 39 training points per list); one PQ byte per 8 dimensions;
    PCA only when there are enough vectors to fit it; below 16 vectors a plain IVF1,Flat.
    The re-ranking codes (SQ8) live in the reduced space: see `build_factory`.
    """
    if n < 16:
        return "IVF1,Flat"
    d = min(dim, 240)  # 240 SQ8 bytes + 30 PQ bytes + 16 of ids: under 300 bytes a vector
    pca = f"PCA{d}," if d < dim and n >= 2 * d else ""
    if not pca:
        d = dim
    m = max((c for c in range(1, d // 4 + 1) if d % c == 0 and d // c >= 4 and c <= max(1, d // 8)), default=1)
    nlist = 2 ** round(math.log2(max(1.0, 4 * math.sqrt(n))))
    nlist = max(1, min(65536, nlist, n // 39))
    bits = 8 if n >= 256 * 39 else 4
    return f"{pca}IVF{nlist},PQ{m}x{bits},Refine(SQ8)"


FACTORIES = {
    "faiss-hnsw": lambda n, dim: "HNSW32,Flat",
    "faiss-hnsw-sq8": lambda n, dim: "HNSW32,SQ8",
    "faiss-ivfpq": ivfpq_factory,
}
TRAIN_SIZE = {"faiss-hnsw": 0, "faiss-hnsw-sq8": 1000, "faiss-ivfpq": 20000}


def build_factory(dim: int, spec: str) -> faiss.Index:
    """faiss.index_factory, except that a leading "PCAd," wraps everything after it, so a
    Refine(...) stage stores reduced d-dim codes rather than full ones (faiss's own parse
    would refine on the original vectors, costing 4-5x the bytes)."""
    head, _, rest = spec.partition(",")
    if head.startswith("PCA") and head[3:].isdigit() and rest:
        return _UncentredPca(dim, int(head[3:]), rest)  # trained (and built) on the first data
    return faiss.index_factory(dim, spec, faiss.METRIC_INNER_PRODUCT)


class _UncentredPca:
    """Stand-in until training: a projection onto the top eigenvectors of E[x x^T], *not* of the
    covariance. faiss's PCAMatrix subtracts the mean, which changes inner-product rankings (the
    -mean.x term differs per vector); an uncentred projection keeps q.x ~ (Pq).(Px)."""

    is_trained = False
    ntotal = 0

    def __init__(self, dim: int, d: int, rest: str) -> None:
        self.d, self.out, self.rest = dim, d, rest

    def fit(self, sample: np.ndarray) -> faiss.Index:
        sample = np.asarray(sample, np.float64)
        _, vecs = np.linalg.eigh(sample.T @ sample)
        top = np.ascontiguousarray(vecs[:, ::-1][:, : self.out].T, dtype=np.float32)  # out x dim
        transform = faiss.LinearTransform(self.d, self.out, False)
        faiss.copy_array_to_vector(top.ravel(), transform.A)
        transform.is_trained = True
        inner = faiss.index_factory(self.out, self.rest, faiss.METRIC_INNER_PRODUCT)
        index = faiss.IndexPreTransform(transform, inner)
        index.train(np.ascontiguousarray(sample, np.float32))
        return index


MAX_TRAIN = 100_000  # training sample cap: k-means and PQ gain little beyond it


def _unwrap(index: faiss.Index) -> faiss.Index:
    return faiss.downcast_index(index)


def _parts(index: faiss.Index):
    """Yield the nested indexes of a factory index (pre-transform, refine, base)."""
    index = _unwrap(index)
    yield index
    if isinstance(index, faiss.IndexPreTransform):
        yield from _parts(index.index)
    elif isinstance(index, (faiss.IndexRefine,)):
        yield from _parts(index.base_index)


class FaissAnnIndex(VectorIndex):
    """Approximate search over a FAISS factory index, with tombstones for deletes."""

    exact = False
    tunable = True

    def __init__(self, dim: int, kind: str = "faiss-hnsw", *, factory: str | None = None,
                 train_size: int | None = None, index: faiss.Index | None = None,
                 labels: np.ndarray | None = None) -> None:
        if kind not in FACTORIES and factory is None:
            raise VectorIndexError(f"unknown approximate index kind {kind!r}; known: {', '.join(FACTORIES)}")
        self.dim, self.kind, self.factory = dim, kind, factory
        self._auto = factory is None  # the factory string is re-sized for N at every rebuild
        self.train_size = TRAIN_SIZE.get(kind, 1000) if train_size is None else train_size
        if kind != "faiss-hnsw" and not (factory or "").startswith("HNSW"):
            self.train_size = max(1, self.train_size)  # these kinds must see data before they can add
        self.ef_search, self.nprobe, self.k_factor = 64, 16, 4
        self._buffer = False
        self._index = index if index is not None else self._new_index(0)
        if index is not None:
            self._buffer = isinstance(_unwrap(index), faiss.IndexFlat)
        if self._index.d != dim:
            raise VectorIndexError(f"index file holds {self._index.d}-d vectors, expected {dim}")
        self._labels = np.asarray(labels, np.int64) if labels is not None else np.empty(0, np.int64)
        self._pos = {int(e): p for p, e in enumerate(self._labels.tolist()) if e >= 0}
        self._params_keep: list = []

    @classmethod
    def create(cls, kind: str, dim: int, **options: Any) -> "FaissAnnIndex":
        return cls(dim, kind, **options)

    @classmethod
    def open(cls, kind: str, path: Path, dim: int, mmap: bool = False) -> "FaissAnnIndex":
        return cls.load(path, dim, kind=kind, mmap=mmap)

    # --- building -------------------------------------------------------------------------

    def _new_index(self, n: int) -> faiss.Index:
        """The trained kind if it can be built now, else an exact flat buffer until train_size."""
        needs_training = self.train_size > 0
        if needs_training and n < self.train_size:
            self._buffer = True
            return faiss.IndexFlatIP(self.dim)
        self._buffer = False
        if self._auto or not self.factory:
            self.factory = FACTORIES[self.kind](n, self.dim)
        return build_factory(self.dim, self.factory)

    @property
    def lossy(self) -> bool:
        """True when the index scores compressed codes (PCA / PQ / SQ), not the vectors themselves."""
        return not self._buffer and any(part in (self.factory or "") for part in ("PCA", "PQ", "SQ"))

    @property
    def buffering(self) -> bool:
        """True while vectors sit in the exact flat buffer, waiting for enough to train on."""
        return self._buffer

    def load_rows(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """A fresh index (trained on `vectors` if the kind needs it) holding exactly these rows."""
        ids, vectors = as_pairs(ids, vectors, self.dim)
        index = self._new_index(len(ids))
        if not index.is_trained:
            sample = vectors
            if len(vectors) > MAX_TRAIN:
                sample = vectors[np.sort(np.random.default_rng(0).choice(len(vectors), MAX_TRAIN, replace=False))]
            log.info("training %s on %d vectors", self.factory, len(sample))
            if isinstance(index, _UncentredPca):
                index = index.fit(sample)
            else:
                index.train(sample)
        if len(vectors):
            index.add(vectors)
        self._index, self._owner = index, None
        self._labels = ids.copy()
        self._pos = {int(e): p for p, e in enumerate(self._labels.tolist())}

    def _live(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of the live rows, reconstructed from the index."""
        live = np.flatnonzero(self._labels >= 0)
        if len(live) == 0:
            return np.empty(0, np.int64), np.empty((0, self.dim), np.float32)
        try:
            vectors = self._index.reconstruct_batch(live.astype(np.int64))
        except RuntimeError as exc:
            raise VectorIndexError(f"{self.factory} cannot reconstruct its vectors; rebuild from the catalogue") from exc
        return self._labels[live], vectors

    def add(self, ids: np.ndarray, vectors: np.ndarray, payload: Payload | None = None) -> None:
        ids, vectors = as_pairs(ids, vectors, self.dim)
        if len(ids) == 0:
            return
        keep = last_of_each(ids)
        ids, vectors = ids[keep], vectors[keep]
        self.remove(ids)
        self._writable()
        if self.buffering and len(self) + len(ids) >= self.train_size:
            old_ids, old_vectors = self._live()
            self.load_rows(np.concatenate([old_ids, ids]), np.concatenate([old_vectors, vectors]))
            return
        start = int(self._index.ntotal)
        self._index.add(vectors)
        self._labels = np.concatenate([self._labels, ids])
        self._pos.update({int(e): start + i for i, e in enumerate(ids.tolist())})

    def remove(self, ids: np.ndarray) -> int:
        positions = [self._pos.pop(int(i)) for i in as_ids(ids) if int(i) in self._pos]
        if positions:
            self._labels[np.asarray(positions)] = -1
            if self.dead_fraction > COMPACT_AT and len(self._labels) >= 64:
                self.compact()
        return len(positions)

    def _writable(self) -> None:
        """A memory-mapped index is read-only: copy it into memory before the first write."""
        if getattr(self, "_owner", None) is not None and self._mmapped:
            fresh = type(self).load(self._path, self.dim, kind=self.kind)
            self._index, self._owner, self._mmapped = fresh._index, fresh._owner, False

    @property
    def dead_fraction(self) -> float:
        return 0.0 if len(self._labels) == 0 else 1.0 - len(self._pos) / len(self._labels)

    def compaction_due(self, removing: int) -> bool:
        return self.dead_fraction + removing / max(1, len(self)) > COMPACT_AT

    def compact(self, vectors_of=None) -> None:
        """Drop tombstones by rebuilding (from reconstructed vectors, or `vectors_of(ids)`)."""
        if vectors_of is not None:
            ids = np.fromiter(self._pos.keys(), np.int64, len(self._pos))
            vectors = vectors_of(ids)
        else:
            ids, vectors = self._live()
        log.info("compacting %s: %d live of %d rows", self.kind, len(ids), len(self._labels))
        self.load_rows(ids, np.ascontiguousarray(vectors, np.float32).reshape(-1, self.dim))

    # --- searching ------------------------------------------------------------------------

    def _params(self, sel) -> faiss.SearchParameters | None:
        keep = self._params_keep = [sel]

        def build(index):
            index = _unwrap(index)
            if isinstance(index, faiss.IndexPreTransform):
                inner = build(index.index)
                p = faiss.SearchParametersPreTransform()
                p.index_params = inner
            elif isinstance(index, faiss.IndexRefine):
                p = faiss.IndexRefineSearchParameters()
                p.k_factor = float(self.k_factor)
                p.base_index_params = build(index.base_index)
            elif isinstance(index, faiss.IndexHNSW):
                p = faiss.SearchParametersHNSW()
                p.efSearch = int(self.ef_search)
                p.sel = sel
            elif isinstance(index, faiss.IndexIVF):
                p = faiss.SearchParametersIVF()
                p.nprobe = int(min(self.nprobe, index.nlist))
                p.sel = sel
            else:
                p = faiss.SearchParameters()
                p.sel = sel
            keep.append(p)
            return p

        return build(self._index)

    def _search(self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None,
                expression: str | None) -> SearchHits:
        if len(self._pos) == 0:
            return empty_hits(len(queries), k)
        if allowed_ids is not None:
            positions = np.asarray([self._pos[i] for i in allowed_ids.tolist() if i in self._pos], np.int64)
            if len(positions) == 0:
                return empty_hits(len(queries), k)
            if len(positions) <= EXACT_FILTER_MAX:
                exact = self._exact_subset(queries, k, positions)
                if exact is not None:
                    return exact
        elif len(self._pos) == len(self._labels):
            return self._finish(*self._index.search(queries, k, params=self._params(None)))
        else:
            positions = np.flatnonzero(self._labels >= 0)
        bits = np.zeros(len(self._labels), bool)
        bits[positions] = True
        packed = np.packbits(bits, bitorder="little")
        sel = faiss.IDSelectorBitmap(len(self._labels), faiss.swig_ptr(packed))
        params = self._params(sel)
        self._params_keep.append(packed)
        return self._finish(*self._index.search(queries, k, params=params))

    def _exact_subset(self, queries: np.ndarray, k: int, positions: np.ndarray) -> SearchHits | None:
        try:
            vectors = self._index.reconstruct_batch(positions)
        except RuntimeError:
            return None
        return top_k_exact(queries, self._labels[positions], vectors, k)

    def _finish(self, scores: np.ndarray, positions: np.ndarray) -> SearchHits:
        ids = np.where(positions >= 0, self._labels[np.clip(positions, 0, None)], -1)
        scores = np.where(ids < 0, -np.inf, scores).astype(np.float32)
        return SearchHits(scores, ids.astype(np.int64))

    def set_search_params(self, *, ef_search: int | None = None, nprobe: int | None = None,
                          k_factor: float | None = None) -> None:
        if ef_search is not None:
            self.ef_search = int(ef_search)
        if nprobe is not None:
            self.nprobe = int(nprobe)
        if k_factor is not None:
            self.k_factor = float(k_factor)

    # --- bookkeeping ----------------------------------------------------------------------

    def ids(self) -> np.ndarray:
        return np.fromiter(self._pos.keys(), np.int64, len(self._pos))

    def __len__(self) -> int:
        return len(self._pos)

    def nbytes(self) -> int:
        """Serialized size in bytes (what the index costs in memory, near enough)."""
        return int(faiss.serialize_index(self._index).size) + 8 * len(self._labels)

    def search_steps(self) -> list[dict[str, Any]]:
        """Search parameters from cheapest to most thorough (what `tune` walks through)."""
        parts = list(_parts(self._index))
        if any(isinstance(p, faiss.IndexHNSW) for p in parts):
            return [{"ef_search": ef} for ef in (16, 32, 64, 128, 256, 512, 1024)]
        ivf = [p for p in parts if isinstance(p, faiss.IndexIVF)]
        if ivf:
            return [{"nprobe": n, "k_factor": kf} for n in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
                    if n <= ivf[0].nlist for kf in (2, 4, 8, 16, 32, 64)]
        return []

    def describe(self) -> dict:
        return {"kind": self.kind, "factory": self.factory, "buffering": self.buffering, "count": len(self),
                "tombstones": int(len(self._labels) - len(self._pos)), "ef_search": self.ef_search,
                "nprobe": self.nprobe, "k_factor": self.k_factor}

    def save(self, path: Path) -> None:
        path = Path(path)
        placeholder = faiss.IndexFlatIP(self.dim)  # IndexIDMap2 insists on an empty index at birth
        wrapper = faiss.IndexIDMap2(placeholder)
        wrapper.own_fields = False
        wrapper.index = self._index
        faiss.copy_array_to_vector(self._labels, wrapper.id_map)
        wrapper.ntotal = self._index.ntotal
        with atomic_file(path, write_errors=(RuntimeError,)) as tmp:  # FAISS's failed fwrite
            faiss.write_index(wrapper, str(tmp))
        write_text(path.with_name(path.name + ".params"),
                   f"{self.kind} {self.factory or '-'} {self.train_size} {self.ef_search} {self.nprobe} {self.k_factor} {int(self._auto)}\n")

    @classmethod
    def load(cls, path: Path, dim: int, *, kind: str = "faiss-hnsw", mmap: bool = False) -> "FaissAnnIndex":
        path = Path(path)
        try:
            owner = faiss.read_index(str(path), faiss.IO_FLAG_MMAP if mmap else 0)
        except RuntimeError as exc:
            raise VectorIndexError(f"cannot read index file {path}: {exc}") from exc
        wrapper = faiss.downcast_index(owner)
        if not isinstance(wrapper, faiss.IndexIDMap2):
            raise VectorIndexError(f"{path} is not an approximate productlens index")
        inner = faiss.downcast_index(wrapper.index)
        labels = faiss.vector_to_array(wrapper.id_map).astype(np.int64)
        factory, train_size, ef, nprobe, kf, auto = None, None, 64, 16, 4.0, True
        params = path.with_name(path.name + ".params")
        if params.exists():
            fields = params.read_text().split()
            if len(fields) == 7:
                kind, factory, train_size, ef, nprobe, kf, auto = fields[0], None if fields[1] == '-' else fields[1], int(fields[2]), \
                    int(fields[3]), int(fields[4]), float(fields[5]), fields[6] == "1"
        index = cls(dim, kind, factory=factory, train_size=train_size, index=inner, labels=labels)
        index._owner = (owner, wrapper)  # the wrapper owns `inner`: keep it alive
        index._mmapped, index._path, index._auto = mmap, path, auto
        index.set_search_params(ef_search=ef, nprobe=nprobe, k_factor=kf)
        return index
