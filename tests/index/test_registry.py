"""The index kind registry: names, aliases, server addresses, and a new backend that is one class
plus one `register_index` call, used by a catalogue with nothing else changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from productlens import Catalog
from productlens.errors import VectorIndexError
from productlens.index import (
    VectorIndex,
    canonical_kind,
    create_index,
    is_remote,
    kind_entry,
    known_kinds,
    list_kinds,
    load_index,
    register_index,
)
from productlens.index.base import Payload, SearchHits, as_ids, as_pairs, top_k_exact

pytestmark = pytest.mark.fast


class NpzIndex(VectorIndex):
    """A complete backend, as a new module would hold it: exact search, saved as one .npz file."""

    kind = "npz-test"

    def __init__(self, dim: int, rows: dict[int, np.ndarray] | None = None) -> None:
        self.dim, self.rows = dim, dict(rows or {})

    @classmethod
    def create(cls, kind: str, dim: int, **options: Any) -> "NpzIndex":
        return cls(dim)

    @classmethod
    def open(cls, kind: str, path: Path, dim: int, mmap: bool = False) -> "NpzIndex":
        with np.load(path) as data:
            return cls(dim, dict(zip(data["ids"].tolist(), data["vectors"])))

    def add(self, ids: np.ndarray, vectors: np.ndarray, payload: Payload | None = None) -> None:
        ids, vectors = as_pairs(ids, vectors, self.dim)
        self.rows.update(zip(ids.tolist(), vectors))

    def remove(self, ids: np.ndarray) -> int:
        return sum(self.rows.pop(int(i), None) is not None for i in as_ids(ids))

    def _search(self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None,
                expression: str | None) -> SearchHits:
        ids = self.ids() if allowed_ids is None else np.intersect1d(self.ids(), allowed_ids)
        vectors = np.stack([self.rows[int(i)] for i in ids]) if len(ids) else np.empty((0, self.dim), np.float32)
        return top_k_exact(queries, ids, vectors, k)

    def ids(self) -> np.ndarray:
        return np.asarray(sorted(self.rows), np.int64)

    def __len__(self) -> int:
        return len(self.rows)

    def save(self, path: Path) -> None:
        ids = self.ids()
        with open(path, "wb") as fh:  # np.savez would add a suffix to a name without one
            np.savez(fh, ids=ids, vectors=np.stack([self.rows[int(i)] for i in ids]) if len(ids) else np.empty((0, self.dim)))


@pytest.fixture(scope="module")
def npz_kind() -> str:
    if "npz-test" not in list_kinds():
        register_index("npz-test", NpzIndex.create, NpzIndex.open, aliases=("npz",))
    return "npz-test"


def test_a_new_backend_is_one_class_and_one_call(npz_kind, tiny_model, fast_photos, fast_queries, tmp_path):
    assert canonical_kind("npz") == npz_kind and npz_kind in list_kinds()
    with Catalog.open(tmp_path / "shop", create=True, model=tiny_model, index="npz") as shop:
        assert shop.index.kind == npz_kind
        shop.add(fast_photos)
        assert shop.search(fast_queries["black-white"], k=1)[0].product.id == "black-white"
    saved = list((tmp_path / "shop" / "index").glob("*.npz-test"))
    assert len(saved) == 1 and len(NpzIndex.open(npz_kind, saved[0], 48)) == 12  # kept in its own file
    with Catalog.open(tmp_path / "shop") as shop:
        assert shop.search(fast_queries["black-white"], k=1)[0].product.id == "black-white"
        built = shop.index.rebuild(kind="memory")
        assert built["kind"] == "memory" and built["count"] == 12 and shop.index.kind == "memory"
        assert shop.search(fast_queries["black-white"], k=1)[0].product.id == "black-white"
    assert not list((tmp_path / "shop" / "index").glob("*.npz-test"))  # the previous kind's file is gone


def test_names_aliases_and_server_addresses():
    assert canonical_kind("flat") == canonical_kind("exact") == "faiss-flat"
    assert canonical_kind("hnsw") == "faiss-hnsw" and canonical_kind("ivfpq") == "faiss-ivfpq"
    assert canonical_kind("milvus://db.example:19530") == "milvus://db.example:19530"
    assert is_remote("milvus://db.example:19530") and not is_remote("memory")
    assert kind_entry("faiss-hnsw").persistent and not kind_entry("memory").persistent
    assert "milvus://host:port" in known_kinds() and "memory" not in known_kinds()  # the fake is not offered
    for bad in ("nope", "milvus", "milvus://", "milvus://host:port-x", "nope://host:1"):
        with pytest.raises(VectorIndexError):
            canonical_kind(bad)
    with pytest.raises(VectorIndexError, match="faiss-flat"):
        create_index("annoy", 8)  # the message lists the known kinds


def test_a_kind_without_a_file_cannot_be_loaded(tmp_path):
    with pytest.raises(VectorIndexError, match="cannot be loaded"):
        load_index("memory", tmp_path / "x", 8)


def test_capabilities_are_declared_not_guessed():
    memory = create_index("memory", 4)
    assert memory.exact and not memory.lossy and not memory.server_filter and not memory.tunable
    hnsw = create_index("faiss-hnsw", 4)
    assert hnsw.tunable and hnsw.search_steps() and not hnsw.server_filter
    with pytest.raises(VectorIndexError, match="filter expression"):
        memory.search(np.ones((1, 4), np.float32), 1, expression="category == 'x'")
    with pytest.raises(VectorIndexError, match="search parameters"):
        memory.set_search_params(ef_search=10)
    memory.add(np.arange(3), np.eye(3, 4, dtype=np.float32), payload=[{"title": "ignored"}] * 3)
    assert memory.fields(np.arange(3)) == {} and memory.contains(np.array([0, 7])).tolist() == [True, False]
