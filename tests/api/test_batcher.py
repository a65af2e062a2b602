"""EmbedBatcher gives each caller its own image's embedding, batched or not."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from productlens.api.batcher import EmbedBatcher
from productlens.images import load_image
from productlens.models import create_embedder


@pytest.mark.parametrize("max_batch", [0, 1, 4])
def test_each_caller_gets_its_own_vector(query_photos, max_batch):
    embedder = create_embedder("efficientnet-lite0")
    images = [load_image(p).image for p in query_photos.values()] * 4
    expected = embedder.embed(images)
    sizes: list[int] = []
    batcher = EmbedBatcher(embedder, max_batch=max_batch, on_batch=sizes.append)
    try:
        with ThreadPoolExecutor(8) as pool:
            got = np.stack(list(pool.map(batcher.embed, images)))
    finally:
        batcher.close()
    np.testing.assert_allclose(got, expected, atol=1e-4)
    if max_batch:
        assert sum(sizes) == len(images) and max(sizes) <= max_batch
    else:
        assert sizes == []
