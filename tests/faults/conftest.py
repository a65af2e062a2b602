"""Fixtures of the fault-injection suite: many synthetic photos, tiny-network catalogues on an exact
FAISS file index (a file to damage, unlike the fast tier's in-memory index), and kill -9."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from disks import mounted_tmpfs
from tiny import build_catalogue, write_photos

from productlens import Catalog

SEED = int(os.environ.get("FAULT_SEED", "20261127"))  # the kill points are reproducible; FAULT_SEED draws others


@pytest.fixture(scope="session")
def many_photos(tmp_path_factory) -> Path:
    """1,000 synthetic photos of the four products: a command spends a second or more writing them."""
    return write_photos(tmp_path_factory.mktemp("many-photos"), per_product=250, first_seed=100)


@pytest.fixture(scope="session")
def file_catalog_template(tmp_path_factory, tiny_model, fast_photos) -> Path:
    """12 synthetic photos on the tiny network and an exact FAISS index file, products with categories."""
    return build_catalogue(tmp_path_factory.mktemp("file-shop") / "shop", tiny_model, fast_photos, "faiss-flat")


@pytest.fixture(scope="session")
def big_catalog_template(tmp_path_factory, tiny_model, fast_photos, many_photos) -> Path:
    """The same with the 1,000 photos as well."""
    path = tmp_path_factory.mktemp("big-shop") / "shop"
    with Catalog.open(path, create=True, model=tiny_model, index="faiss-flat") as shop:
        shop.add(fast_photos)
        shop.add(many_photos)
    return path


@pytest.fixture(scope="session")
def trainable_catalog_template(tmp_path_factory, tiny_model) -> Path:
    """25 photos of each product on the tiny network (built in torch for training), so `train` runs in seconds."""
    photos = write_photos(tmp_path_factory.mktemp("train-photos"), per_product=25, first_seed=5000)
    path = tmp_path_factory.mktemp("train-shop") / "shop"
    with Catalog.open(path, create=True, model=tiny_model, index="faiss-flat") as shop:
        shop.add(photos)
    return path


@pytest.fixture
def rng() -> random.Random:
    return random.Random(SEED)


@pytest.fixture
def small_disk(tmp_path) -> Path:
    """A tmpfs of a few MB (skipped where it cannot be mounted)."""
    with mounted_tmpfs(tmp_path / "disk") as mount:
        yield mount
