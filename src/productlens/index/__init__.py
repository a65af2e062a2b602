"""Vector index backends behind one small interface (`VectorIndex`), chosen by kind name.

Every backend is registered here, in one place, with `register_index`: a new backend is one new
module plus one call below (the contract suite, tests/index/test_contract.py, then runs it).

    faiss-flat (flat, exact)   exact, the default               faiss_index.py
    faiss-hnsw, faiss-hnsw-sq8, faiss-ivfpq (hnsw, ...)   approximate   ann.py
    milvus://host:port         a Milvus server                  milvus.py
    memory                     a NumPy fake for unit tests      memory.py
"""

from __future__ import annotations

from .ann import FaissAnnIndex
from .base import SearchHits, VectorIndex
from .faiss_index import FaissIndex
from .memory import MemoryIndex
from .milvus import MilvusIndex
from .registry import (
    IndexKind,
    canonical_kind,
    create_index,
    is_remote,
    kind_entry,
    known_kinds,
    list_kinds,
    load_index,
    register_index,
)
from .tuning import choose_kind, neighbour_recall, parse_bytes, tune

__all__ = ["FaissAnnIndex", "FaissIndex", "IndexKind", "MemoryIndex", "MilvusIndex", "SearchHits", "VectorIndex",
           "canonical_kind", "choose_kind", "create_index", "is_remote", "kind_entry", "known_kinds", "list_kinds",
           "load_index", "neighbour_recall", "parse_bytes", "register_index", "tune"]

register_index("faiss-flat", FaissIndex.create, FaissIndex.open, aliases=("flat", "exact"))
register_index("faiss-hnsw", FaissAnnIndex.create, FaissAnnIndex.open, aliases=("hnsw",))
register_index("faiss-hnsw-sq8", FaissAnnIndex.create, FaissAnnIndex.open, aliases=("hnsw-sq8",))
register_index("faiss-ivfpq", FaissAnnIndex.create, FaissAnnIndex.open, aliases=("ivfpq",))
register_index("milvus", MilvusIndex.create, remote=True)
register_index("memory", MemoryIndex.create, offered=False)
