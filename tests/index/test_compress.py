"""Compact vectors: PCA (+whitening) and fp16 / int8 / PQ codecs, checked against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from productlens.errors import DimensionMismatchError, VectorIndexError
from productlens.index.compress import Codec, PcaReducer, normalise


@pytest.fixture
def data() -> np.ndarray:
    rng = np.random.default_rng(0)
    low = rng.normal(size=(600, 8)) @ rng.normal(size=(8, 64))  # rank 8 in 64-d
    return normalise(low + 0.01 * rng.normal(size=low.shape))


def test_pca_keeps_neighbours_of_low_rank_data(data, tmp_path):
    pca = PcaReducer.fit(data, 8)
    reduced = pca.apply(data)
    assert reduced.shape == (600, 8)
    np.testing.assert_allclose(np.linalg.norm(reduced, axis=1), 1.0, atol=1e-5)
    full = np.argsort(-(data[:20] @ data.T), axis=1)[:, 1]
    small = np.argsort(-(reduced[:20] @ reduced.T), axis=1)[:, 1]
    assert (full == small).mean() >= 0.9
    pca.save(tmp_path / "pca.npz")
    np.testing.assert_allclose(PcaReducer.load(tmp_path / "pca.npz").apply(data[:5]), reduced[:5], atol=1e-6)


def test_whitening_equalises_the_variances(data):
    pca = PcaReducer.fit(data, 4, whiten=True)
    projected = (data - pca.mean) @ pca.components.T / pca.scale
    np.testing.assert_allclose(projected.var(0), 1.0, rtol=1e-2)


def test_pca_refuses_bad_shapes(data, tmp_path):
    with pytest.raises(VectorIndexError):
        PcaReducer.fit(data[:3], 8)
    with pytest.raises(DimensionMismatchError):
        PcaReducer.fit(data, 8).apply(np.ones((2, 10), np.float32))
    (tmp_path / "bad.npz").write_bytes(b"nope")
    with pytest.raises(VectorIndexError):
        PcaReducer.load(tmp_path / "bad.npz")


@pytest.mark.parametrize("kind,nbytes,tolerance", [("fp32", 256, 0), ("fp16", 128, 1e-3), ("int8", 64, 2e-2), ("pq", 16, 0.5)])
def test_codecs_round_trip_within_their_precision(data, kind, nbytes, tolerance):
    codec = Codec(kind, 64, pq_bytes=16).fit(data)
    assert codec.bytes_per_vector == nbytes
    codes = codec.encode(data)
    assert codes.nbytes == nbytes * len(data)
    error = np.abs(codec.decode(codes) - data).max()
    assert error <= tolerance + 1e-7
    if kind == "pq":  # lossy, but far better than chance at ranking
        decoded = normalise(codec.decode(codes))
        assert (np.argmax(data[:50] @ decoded.T, axis=1) == np.arange(50)).mean() >= 0.8


def test_unknown_codec_is_refused():
    with pytest.raises(VectorIndexError):
        Codec("int4", 64)
