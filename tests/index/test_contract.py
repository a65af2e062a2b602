"""One contract, run against every registered index kind (`list_kinds()`: FAISS exact, FAISS ANN
kinds, Milvus, the in-memory fake, and whatever is registered next).

Approximate backends must return the exact answer where it is cheap to demand (top-1 of a stored
vector, filters, deletes) and a recall of at least MIN_RECALL where exact ranking is not promised.
A server kind runs against a real server: Milvus is the `milvus` package's standalone binary,
started once per session (SERVERS names the fixture that starts each server kind's).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from support import INDEX_SERVERS

from productlens.errors import DimensionMismatchError, VectorIndexError
from productlens.index import FaissIndex, create_index, kind_entry, list_kinds

DIM = 16
SERVERS = INDEX_SERVERS  # server kind -> the fixture yielding a running server's address
MIN_RECALL = 0.8
_names = itertools.count()


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def vectors() -> np.ndarray:
    return unit(np.random.default_rng(1).normal(size=(50, DIM)))


@pytest.fixture(params=[pytest.param(kind, marks=() if kind_entry(kind).remote else pytest.mark.fast)
                        for kind in list_kinds()])
def index(request):
    kind = request.param
    if kind_entry(kind).remote:
        uri = request.getfixturevalue(SERVERS[kind])
        idx = create_index(uri, DIM, collection=f"contract_{next(_names)}")
        yield idx
        idx.drop()
        idx.close()
        return
    # small train_size: the IVF-PQ kind really trains (on the 50 test vectors) instead of buffering
    yield create_index(kind, DIM, **({"train_size": 32} if kind == "faiss-ivfpq" else {}))


def score_tolerance(index) -> float:
    """Exact backends score to float precision; compressed re-ranking codes (SQ6) to a few %."""
    return 1e-5 if getattr(index, "exact", True) else 3e-2


def recall(found: np.ndarray, expected: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(e)) / len(e) for f, e in zip(found.tolist(), expected.tolist())]))


def test_exact_top1_is_the_vector_itself(index, vectors):
    index.add(np.arange(100, 150), vectors)
    hits = index.search(vectors[:5], 3)
    assert hits.ids[:, 0].tolist() == [100, 101, 102, 103, 104]
    np.testing.assert_allclose(hits.scores[:, 0], 1.0, atol=score_tolerance(index))
    assert np.all(np.diff(hits.scores, axis=1) <= 1e-6)  # descending


def test_matches_brute_force(index, vectors):
    index.add(np.arange(50), vectors)
    query = unit(np.random.default_rng(2).normal(size=(4, DIM)))
    hits = index.search(query, 10)
    expected = np.argsort(-(query @ vectors.T), axis=1)[:, :10]
    if getattr(index, "exact", True):
        assert hits.ids.tolist() == expected.tolist()
    else:  # the recall-tolerant variant for approximate backends
        assert recall(hits.ids, expected) >= MIN_RECALL
        assert np.all(np.diff(hits.scores, axis=1) <= 1e-6)


def test_remove_and_len(index, vectors):
    index.add(np.arange(50), vectors)
    assert len(index) == 50
    assert index.remove(np.array([0, 1, 999])) == 2
    assert len(index) == 48
    assert 0 not in index.search(vectors[:1], 5).ids[0]
    assert sorted(index.ids().tolist()) == list(range(2, 50))


def test_re_adding_an_id_replaces_it(index, vectors):
    index.add(np.array([7]), vectors[:1])
    index.add(np.array([7]), vectors[1:2])
    assert len(index) == 1
    assert index.search(vectors[1:2], 1).ids[0, 0] == 7
    np.testing.assert_allclose(index.search(vectors[1:2], 1).scores[0, 0], 1.0, atol=score_tolerance(index))


def test_allowed_ids_restrict_exactly(index, vectors):
    index.add(np.arange(50), vectors)
    allowed = np.array([3, 9, 27])
    hits = index.search(vectors[:1], 5, allowed_ids=allowed)
    found = [i for i in hits.ids[0].tolist() if i >= 0]
    assert sorted(found) == [3, 9, 27]
    assert hits.ids[0, 3] == -1 and hits.scores[0, 3] == -np.inf


def test_empty_index_and_empty_filter(index, vectors):
    assert index.search(vectors[:2], 3).ids.tolist() == [[-1] * 3] * 2
    index.add(np.arange(5), vectors[:5])
    assert (index.search(vectors[:1], 3, allowed_ids=np.array([], dtype=np.int64)).ids == -1).all()


def test_wrong_dimension_is_refused(index):
    with pytest.raises(DimensionMismatchError):
        index.add(np.array([1]), np.ones((1, DIM + 1), np.float32))
    with pytest.raises(DimensionMismatchError):
        index.search(np.ones((1, DIM - 1), np.float32), 1)


@pytest.mark.fast
def test_every_registered_kind_is_under_contract():
    assert {"faiss-flat", "faiss-hnsw", "faiss-hnsw-sq8", "faiss-ivfpq", "milvus", "memory"} <= set(list_kinds())
    assert all(kind in SERVERS for kind in list_kinds() if kind_entry(kind).remote)


@pytest.mark.fast
def test_faiss_save_load_roundtrip(tmp_path, vectors):
    index = FaissIndex(DIM)
    index.add(np.arange(10, 60), vectors)
    path = tmp_path / "v.faiss"
    index.save(path)
    assert not list(tmp_path.glob(".*tmp"))  # no temp file left behind
    for mmap in (False, True):
        loaded = FaissIndex.load(path, DIM, mmap=mmap)
        assert len(loaded) == 50
        assert loaded.search(vectors[:3], 1).ids[:, 0].tolist() == [10, 11, 12]


def test_many_deletes_and_re_adds_stay_consistent(index, vectors):
    """Deleting most rows (tombstones, then compaction for FAISS ANN) keeps the survivors findable."""
    index.add(np.arange(50), vectors)
    assert index.remove(np.arange(0, 40)) == 40
    assert len(index) == 10
    assert sorted(index.ids().tolist()) == list(range(40, 50))
    hits = index.search(vectors[40:50], 1)
    assert hits.ids[:, 0].tolist() == list(range(40, 50))
    index.add(np.arange(0, 5), vectors[:5])
    assert len(index) == 15
    assert index.search(vectors[:5], 1).ids[:, 0].tolist() == list(range(5))


@pytest.mark.fast
def test_ann_save_load_roundtrip_with_tombstones(tmp_path, vectors):
    from productlens.index import load_index

    for kind in ("faiss-hnsw", "faiss-ivfpq"):
        index = create_index(kind, DIM, train_size=32 if kind == "faiss-ivfpq" else None)
        index.add(np.arange(10, 60), vectors)
        index.remove(np.array([10, 11]))
        path = tmp_path / f"v.{kind}"
        index.save(path)
        assert not list(tmp_path.glob(".*tmp"))
        for mmap in (False, True):
            loaded = load_index(kind, path, DIM, mmap=mmap)
            assert len(loaded) == 48 and 10 not in loaded.ids()
            assert loaded.search(vectors[2:5], 1).ids[:, 0].tolist() == [12, 13, 14]
            loaded.add(np.array([10]), vectors[:1])  # a memory-mapped index becomes writable on demand
            assert loaded.search(vectors[:1], 1).ids[0, 0] == 10


@pytest.mark.fast
def test_unreadable_ann_file_is_a_clear_error(tmp_path):
    from productlens.index import load_index

    path = tmp_path / "broken.faiss-hnsw"
    path.write_bytes(b"not an index")
    with pytest.raises(VectorIndexError):
        load_index("faiss-hnsw", path, DIM)


def test_milvus_pushes_product_filters_down(milvus_server, vectors):
    from productlens.filters import parse_filter

    index = create_index(milvus_server, DIM, collection=f"pushdown_{next(_names)}")
    try:
        payload = [{"title": f"item {i}", "category": "milk" if i % 2 else "juice",
                    "attributes": {"brand": "arla" if i < 10 else "other"}} for i in range(50)]
        index.add(np.arange(50), vectors, payload=payload)
        hits = index.search_filter(vectors[:1], 50, parse_filter("category = 'milk' and brand = 'arla'"))
        found = sorted(i for i in hits.ids[0].tolist() if i >= 0)
        assert found == [1, 3, 5, 7, 9]
    finally:
        index.drop()


def test_milvus_bulk_load_waits_until_indexed_and_reads_its_own_writes(milvus_server, vectors):
    index = create_index(milvus_server, DIM, collection=f"bulk_{next(_names)}")
    try:
        index.add(np.arange(50), vectors)
        index.wait_until_indexed(timeout=120)
        state = index.index_state()
        assert state["indexed_rows"] == state["total_rows"] == 50
        index.add(np.array([1000]), vectors[7:8] * -1)  # a write is visible to the next search (Session)
        assert index.search(-vectors[7:8], 1).ids[0, 0] == 1000
    finally:
        index.drop()


@pytest.mark.fast
def test_bad_milvus_address_is_refused():
    with pytest.raises(VectorIndexError):
        create_index("milvus://", DIM)
