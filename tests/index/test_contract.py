"""One contract, run against every index backend."""

from __future__ import annotations

import numpy as np
import pytest

from productlens.errors import DimensionMismatchError
from productlens.index import BACKENDS, FaissIndex, create_index

DIM = 16


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def vectors() -> np.ndarray:
    return unit(np.random.default_rng(1).normal(size=(50, DIM)))


@pytest.fixture(params=sorted(BACKENDS))
def index(request):
    return create_index(request.param, DIM)


def test_exact_top1_is_the_vector_itself(index, vectors):
    index.add(np.arange(100, 150), vectors)
    hits = index.search(vectors[:5], 3)
    assert hits.ids[:, 0].tolist() == [100, 101, 102, 103, 104]
    np.testing.assert_allclose(hits.scores[:, 0], 1.0, atol=1e-5)
    assert np.all(np.diff(hits.scores, axis=1) <= 1e-6)  # descending


def test_matches_brute_force(index, vectors):
    index.add(np.arange(50), vectors)
    query = unit(np.random.default_rng(2).normal(size=(4, DIM)))
    hits = index.search(query, 10)
    expected = np.argsort(-(query @ vectors.T), axis=1)[:, :10]
    assert hits.ids.tolist() == expected.tolist()


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
    np.testing.assert_allclose(index.search(vectors[1:2], 1).scores[0, 0], 1.0, atol=1e-5)


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
