"""The upload path (API upload -> Catalog.add_upload) on a real catalogue: the product is looked
up once, the bytes decoded once, and the write lock taken once; an index save is throttled."""

from __future__ import annotations

import io

import pytest
from tiny import product_photo

from productlens import Catalog, NotAnImageError, ProductNotFoundError
from productlens.engine import ingest as ingest_module
from productlens.engine.lifecycle import WriteLock

pytestmark = pytest.mark.fast


def jpeg(product: str, variant: int) -> bytes:
    out = io.BytesIO()
    product_photo(product, variant).save(out, "JPEG", quality=90)
    return out.getvalue()


def counting(monkeypatch, owner, name: str, counts: dict[str, int]) -> None:
    """Count calls of a real method or function, still calling it."""
    real = getattr(owner, name)

    def spy(*args, **kwargs):
        counts[name] = counts.get(name, 0) + 1
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, spy)


def test_an_upload_looks_up_decodes_and_locks_once(fast_catalog, monkeypatch):
    with Catalog.open(fast_catalog) as shop:
        product = shop.list_products()[0].id
        before = len(shop.get_images(product))
        shop.embedder()  # loaded before counting: the first use of a catalogue loads its model
        counts: dict[str, int] = {}
        counting(monkeypatch, shop.store, "get_product", counts)
        counting(monkeypatch, ingest_module, "load_image", counts)
        counting(monkeypatch, WriteLock, "hold", counts)
        image_id = shop.add_upload(product, jpeg(product, 7))
        assert image_id is not None and len(shop.get_images(product)) == before + 1
        assert counts == {"get_product": 1, "load_image": 1, "hold": 1}
        assert shop.add_upload(product, jpeg(product, 7)) is None  # the same bytes again: a duplicate


def test_a_bad_upload_stores_nothing(fast_catalog):
    with Catalog.open(fast_catalog) as shop:
        product = shop.list_products()[0].id
        images = shop.counts()["images"]
        with pytest.raises(NotAnImageError):
            shop.add_upload(product, b"not an image at all")
        with pytest.raises(ProductNotFoundError):
            shop.add_upload("no-such-product", jpeg(product, 3))
        assert shop.counts()["images"] == images
