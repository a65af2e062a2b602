"""Cached activations: float16 rows memory-mapped per photo and view, reused by a second run, and
an extraction stopped half-way resumes where it stopped instead of starting over."""

from __future__ import annotations

import numpy as np
import pytest
from tiny import write_photos

from productlens.images import content_hash, read_bytes
from productlens.models import create_embedder
from productlens.training.activations import CHUNK, cached_activations

pytestmark = pytest.mark.fast


class Front:
    """A stand-in for the front graph: 2x2 average pooling of the prepared views, counting batches;
    `fail_after` batches it raises, as a killed run would stop."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.batches, self.fail_after = 0, fail_after

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        if self.fail_after is not None and self.batches >= self.fail_after:
            raise KeyboardInterrupt
        self.batches += 1
        n, c, h, w = batch.shape
        return batch.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


def test_activations_are_cached_and_an_interrupted_extraction_resumes(tiny_model, tmp_path):
    photos = sorted(write_photos(tmp_path / "photos", per_product=6).glob("*/*.jpg"))  # 24 photos: 2 chunks
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    entries = [(content_hash(read_bytes(p)), str(p)) for p in [*photos, tmp_path / "broken.jpg"]]
    embedder = create_embedder(tiny_model)
    shape = (3, 16, 16)
    whole, ok = cached_activations(tmp_path / "a", "k", embedder, Front(), shape, entries, views=3, seed=0)
    assert whole.dtype == np.float16 and whole.shape == (25, 3, *shape) and ok == list(range(24))
    assert not np.array_equal(whole[0, 0], whole[0, 1])  # view 1 is an augmented crop, not the plain view

    stopped = Front(fail_after=1)
    with pytest.raises(KeyboardInterrupt):
        cached_activations(tmp_path / "b", "k", embedder, stopped, shape, entries, views=3, seed=0)
    resumed = Front()
    again, ok_again = cached_activations(tmp_path / "b", "k", embedder, resumed, shape, entries, views=3, seed=0)
    assert resumed.batches == -(-len(entries) // CHUNK) - 1  # the first chunk was not run again
    assert ok_again == ok and np.array_equal(np.asarray(again), np.asarray(whole))

    reused = Front()
    cached_activations(tmp_path / "a", "k", embedder, reused, shape, entries, views=3, seed=0)
    assert reused.batches == 0
