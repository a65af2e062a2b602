"""Model fixtures. The ONNX export lands in the session cache that tests/conftest.py points
PRODUCTLENS_CACHE_DIR at, so it happens once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from productlens import settings
from productlens.models import Embedder, create_embedder

# Two photos each of two different products, from the Grocery Store train split.
GROCERY_PHOTOS = {
    "golden": [
        "train/Fruit/Apple/Golden-Delicious/Golden-Delicious_001.jpg",
        "train/Fruit/Apple/Golden-Delicious/Golden-Delicious_002.jpg",
    ],
    "oatghurt": [
        "train/Packages/Oatghurt/Oatly-Natural-Oatghurt/Oatly-Natural-Oatghurt_001.jpg",
        "train/Packages/Oatghurt/Oatly-Natural-Oatghurt/Oatly-Natural-Oatghurt_002.jpg",
    ],
}


@pytest.fixture(scope="session")
def model_dir(model_cache: Path) -> Path:
    return model_cache / "onnx"


@pytest.fixture(scope="session")
def lite0(model_dir: Path) -> Embedder:
    embedder = create_embedder("efficientnet-lite0")
    assert embedder.onnx_path.parent == model_dir
    return embedder


@pytest.fixture(scope="session")
def grocery() -> dict[str, list[Path]]:
    """Paths of real product photos; the test is skipped when the dataset is not installed."""
    root = Path(settings.get("grocery_root")) / "dataset"
    paths = {k: [root / p for p in v] for k, v in GROCERY_PHOTOS.items()}
    missing = [p for ps in paths.values() for p in ps if not p.exists()]
    if missing:
        pytest.skip(f"Grocery Store dataset not found (missing {missing[0]}); set PRODUCTLENS_GROCERY_ROOT")
    return paths


@pytest.fixture(scope="session")
def grocery_images(grocery: dict[str, list[Path]]) -> dict[str, list[Image.Image]]:
    return {k: [Image.open(p).convert("RGB") for p in ps] for k, ps in grocery.items()}
