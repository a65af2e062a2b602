"""Vector index backends behind one small interface (`VectorIndex`), chosen by name."""

from __future__ import annotations

from pathlib import Path

from ..errors import VectorIndexError
from .base import SearchHits, VectorIndex
from .faiss_index import FaissIndex
from .memory import MemoryIndex

__all__ = ["SearchHits", "VectorIndex", "FaissIndex", "MemoryIndex", "create_index", "load_index", "BACKENDS"]

BACKENDS = {"faiss-flat": FaissIndex, "memory": MemoryIndex}


def create_index(kind: str, dim: int) -> VectorIndex:
    """A new empty index of a registered kind."""
    try:
        return BACKENDS[kind](dim)
    except KeyError:
        raise VectorIndexError(f"unknown index kind {kind!r}; known: {', '.join(BACKENDS)}") from None


def load_index(kind: str, path: Path, dim: int) -> VectorIndex:
    """Load a persisted index of a given kind."""
    cls = BACKENDS.get(kind)
    if cls is None or not hasattr(cls, "load"):
        raise VectorIndexError(f"index kind {kind!r} cannot be loaded from a file")
    return cls.load(path, dim)
