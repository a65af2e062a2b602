"""Pixel alignment (dedup/alignment.py): copies line up, a second shot of the same scene does not."""

from __future__ import annotations

import numpy as np
import pytest

from productlens.dedup.alignment import ALIGNED, Aligner, decoded
from productlens.dedup.thresholds import COPY_KINDS, make_copy
from productlens import Catalog
from productlens.catalog.store import Product
from productlens.images import read_bytes

from support import DATASET, require_grocery

# Two shots of one carton seconds apart, the camera and hand moved a little: the closest pair
# of distinct photos found among 2,804 same-product pairs (alignment 0.76, below ALIGNED).
BURST = ("Packages/Soyghurt/Alpro-Blueberry-Soyghurt/Alpro-Blueberry-Soyghurt_009.jpg",
         "Packages/Soyghurt/Alpro-Blueberry-Soyghurt/Alpro-Blueberry-Soyghurt_022.jpg")


@pytest.fixture(scope="module")
def burst() -> tuple[bytes, bytes]:
    require_grocery()
    return tuple(read_bytes(DATASET / "train" / p) for p in BURST)  # type: ignore[return-value]


def test_every_kind_of_copy_lines_up_and_the_second_shot_does_not(burst):
    rng = np.random.default_rng(0)
    files = {"a": burst[0], "b": burst[1]}
    files.update({kind: make_copy(burst[0], kind, rng) for kind in COPY_KINDS})
    aligner = Aligner(decoded(files.get))
    for kind in COPY_KINDS:
        assert aligner.score(kind, "a") >= ALIGNED, kind
        assert aligner.score("a", kind) == pytest.approx(aligner.score(kind, "a"))  # either way round
    assert aligner.score("a", "b") < ALIGNED
    assert aligner.score("a", "a") == pytest.approx(1.0, abs=1e-3)


def test_unreadable_images_cannot_be_scored(burst):
    aligner = Aligner(decoded({"a": burst[0], "junk": b"not an image"}.get))
    assert aligner.score("a", "junk") is None and aligner.score("a", "gone") is None
    assert aligner.aligned("a", "junk")


def test_a_second_shot_is_not_grouped_but_a_copy_is(tmp_path, model_cache, burst):
    """Two burst shots of one product, close in the embedding, stay apart; a re-encoded crop of
    one of them is grouped with it."""
    rng = np.random.default_rng(3)
    with Catalog.open(tmp_path / "shop", create=True) as catalog:
        catalog.upsert_product(Product("soyghurt", "Alpro Blueberry Soyghurt"))
        files = [burst[0], burst[1], make_copy(burst[0], "crop+resize+reencode", rng)]
        for n, data in enumerate(files):
            (tmp_path / f"{n}.jpg").write_bytes(data)
        first, _, copy = (catalog.add_image("soyghurt", tmp_path / f"{n}.jpg") for n in range(3))
        report = catalog.duplicates(image_threshold=0.5, product_threshold=0.99, use_text=False)
        assert [sorted(c.members) for c in report.image_clusters] == [sorted([first, copy])]
        # The copy's file gone: its pixels cannot be compared, and its cosine (< 0.95) is not enough alone.
        (tmp_path / "2.jpg").unlink()
        assert catalog.duplicates(image_threshold=0.5, product_threshold=0.99, use_text=False).image_clusters == []
