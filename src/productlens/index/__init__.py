"""Vector index backends behind one small interface (`VectorIndex`), chosen by name.

Kinds: `faiss-flat` (exact, default), `faiss-hnsw`, `faiss-hnsw-sq8`, `faiss-ivfpq`
(approximate, see ann.py), `memory` (a NumPy test fake) and `milvus://host:port` (a Milvus
server; see milvus.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import VectorIndexError
from .ann import FaissAnnIndex, choose_kind, parse_bytes, tune
from .base import SearchHits, VectorIndex
from .faiss_index import FaissIndex
from .memory import MemoryIndex

__all__ = ["SearchHits", "VectorIndex", "FaissIndex", "FaissAnnIndex", "MemoryIndex", "create_index",
           "load_index", "BACKENDS", "ANN_KINDS", "choose_kind", "parse_bytes", "tune", "is_remote"]

ANN_KINDS = ("faiss-hnsw", "faiss-hnsw-sq8", "faiss-ivfpq")
BACKENDS = {"faiss-flat": FaissIndex, "memory": MemoryIndex, **{k: FaissAnnIndex for k in ANN_KINDS},
            "milvus": None}


def is_remote(kind: str) -> bool:
    """True for kinds that live on a server (no index file)."""
    return kind.startswith("milvus://") or kind == "milvus"


def create_index(kind: str, dim: int, **options: Any) -> VectorIndex:
    """A new empty index of a registered kind (`milvus://host:port` opens a collection there)."""
    if is_remote(kind):
        from .milvus import MilvusIndex

        uri = kind if kind.startswith("milvus://") else options.pop("uri", "milvus://127.0.0.1:19530")
        return MilvusIndex(dim, uri, **options)
    if kind in ANN_KINDS:
        return FaissAnnIndex(dim, kind, **options)
    cls = BACKENDS.get(kind)
    if cls is None:
        raise VectorIndexError(f"unknown index kind {kind!r}; known: {', '.join(BACKENDS)} or milvus://host:port")
    return cls(dim, **options)


def load_index(kind: str, path: Path, dim: int, *, mmap: bool = False) -> VectorIndex:
    """Load a persisted index of a given kind (memory-mapped if asked and the kind allows)."""
    if kind in ANN_KINDS:
        return FaissAnnIndex.load(path, dim, kind=kind, mmap=mmap)
    if kind == "faiss-flat":
        return FaissIndex.load(path, dim, mmap=mmap)
    raise VectorIndexError(f"index kind {kind!r} cannot be loaded from a file")
