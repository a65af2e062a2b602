"""Choosing and sizing approximate indexes, and tuning them to a recall target."""

from __future__ import annotations

import numpy as np
import pytest

from productlens.errors import VectorIndexError
from productlens.index import FaissIndex, choose_kind, create_index, parse_bytes, tune
from productlens.index import neighbour_recall
from productlens.index.ann import ivfpq_factory


def test_choice_follows_size_and_budget():
    assert choose_kind(10_000, 1280) == "faiss-flat"
    assert choose_kind(1_000_000, 1280) == "faiss-hnsw"
    assert choose_kind(1_000_000, 1280, parse_bytes("2GB")) == "faiss-hnsw-sq8"
    assert choose_kind(1_000_000, 1280, parse_bytes("512MB")) == "faiss-ivfpq"
    assert choose_kind(10_000, 1280, parse_bytes("10MB")) == "faiss-ivfpq"


def test_parse_bytes():
    assert parse_bytes("2GB") == 2 * 2**30 and parse_bytes("512m") == 512 * 2**20 and parse_bytes("100") == 100
    assert parse_bytes("1.5GiB") == 1.5 * 2**30
    with pytest.raises(VectorIndexError):
        parse_bytes("lots")


def test_ivfpq_factory_is_sized_for_n():
    assert ivfpq_factory(1_000_000, 1280) == "PCA240,IVF4096,PQ30x8,Refine(SQ8)"
    assert ivfpq_factory(100_000, 1280).startswith("PCA240,IVF1024,")
    assert ivfpq_factory(9, 1280) == "IVF1,Flat"
    assert ivfpq_factory(50, 16).startswith("IVF1,PQ")


def test_neighbour_recall_by_hand():
    truth = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    found = np.array([[1, 2, 9, -1], [8, 7, 6, 5]])
    assert neighbour_recall(found, truth) == pytest.approx((2 / 4 + 4 / 4) / 2)


@pytest.mark.parametrize("kind", ["faiss-hnsw", "faiss-ivfpq"])
def test_tuning_reaches_the_recall_target(kind):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(50, 32))
    data = centres[rng.integers(0, 50, 4000)] + 0.3 * rng.normal(size=(4000, 32))
    data = (data / np.linalg.norm(data, axis=1, keepdims=True)).astype(np.float32)
    index = create_index(kind, 32, **({"train_size": 1000} if kind == "faiss-ivfpq" else {}))
    index.add(np.arange(4000), data)
    exact = FaissIndex(32)
    exact.add(np.arange(4000), data)
    queries = data[:100] + 0.05 * rng.normal(size=(100, 32)).astype(np.float32)
    truth = exact.search(queries, 10).ids
    result = tune(index, queries, truth, k=10, target=0.9)
    assert result["recall"] >= 0.9
    assert neighbour_recall(index.search(queries, 10).ids, truth) == pytest.approx(result["recall"])
