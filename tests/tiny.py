"""The fast tier's stand-ins for the real model and dataset: a tiny ONNX network built here with
onnx.helper (no torch, no download) and synthetic product photos drawn with Pillow.

The network average-pools the preprocessed 32x32 image into 4x4 cells per channel (48 numbers):
a colour thumbnail, so photos of one product embed close together and different products apart,
which is all the engine's logic above the model needs.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper
from PIL import Image, ImageDraw

from productlens.catalog.store import ModelRecord
from productlens.engine.versions import VersionFolder
from productlens.models import PreprocessConfig, list_embedders, register_embedder
from productlens.models.embedder import fp32_path
from productlens.models.export import INPUT_NAME, OUTPUT_NAME
from productlens.models.registry import get_spec

MODEL = "tiny-test"
SIZE = 32


def write_pooling_network(path: Path, size: int = SIZE, cell: int = 8) -> Path:
    """An ONNX graph images (n, 3, size, size) -> features (n, 3 * (size / cell)^2): cell averages."""
    images = helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", 3, size, size])
    features = helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", 3 * (size // cell) ** 2])
    nodes = [helper.make_node("AveragePool", [INPUT_NAME], ["pooled"], kernel_shape=[cell, cell], strides=[cell, cell]),
             helper.make_node("Flatten", ["pooled"], [OUTPUT_NAME], axis=1)]
    graph = helper.make_graph(nodes, "tiny", [images], [features])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def register_tiny_model(cache_dir: Path) -> str:
    """Register MODEL (once per process) and put its ONNX file where `create_embedder` looks."""
    if MODEL not in list_embedders():
        @register_embedder(MODEL, dim=3 * (SIZE // 8) ** 2, preprocess=PreprocessConfig(SIZE, SIZE))
        def build():
            """The same cell averages in torch: only a trained version (network + head) is exported
            from it; the registered network itself is the file written with onnx.helper."""
            from torch import nn

            return nn.Sequential(nn.AvgPool2d(8), nn.Flatten()).eval()

    path = fp32_path(get_spec(MODEL), cache_dir / "onnx")
    if not path.exists():
        write_pooling_network(path)
    return MODEL


def add_version(shop, version: str, cell: int = 16) -> str:
    """Register a model version of a tiny-network catalogue as training would: an ONNX file in its
    models folder and a models row. The pooling over `cell`-pixel cells is another embedding
    space (12-d for 16); returns the version's model key."""
    onnx = VersionFolder(shop.versions.models_dir / version).onnx("fp32")
    write_pooling_network(onnx, cell=cell)
    key = f"tiny-test/{version}/fp32"
    shop.store.add_model(ModelRecord(key, "tiny-test", version, "fp32", 3 * (SIZE // cell) ** 2,
                                     PreprocessConfig(SIZE, SIZE).to_dict(), {"onnx": onnx.relative_to(shop.path).as_posix()},
                                     time.strftime("%Y-%m-%dT%H:%M:%S")))
    return key


# product id -> (category, two colours of its pattern, pattern)
PRODUCTS = {
    "red-blue": ("Milk", (200, 30, 30), (30, 30, 200), "halves"),
    "green-yellow": ("Milk", (30, 180, 40), (230, 220, 40), "bands"),
    "black-white": ("Fruit", (20, 20, 20), (240, 240, 240), "diagonal"),
    "purple-orange": ("Fruit", (120, 40, 150), (250, 140, 20), "square"),
}


def product_photo(product: str, seed: int, size: tuple[int, int] = (80, 60)) -> Image.Image:
    """One noisy, slightly shifted photo of a synthetic product."""
    _, first, second, pattern = PRODUCTS[product]
    rng = np.random.default_rng(seed)
    w, h = size
    image = Image.new("RGB", size, first)
    draw = ImageDraw.Draw(image)
    dx, dy = (int(v) for v in rng.integers(-3, 4, 2))
    if pattern == "halves":
        draw.rectangle([w // 2 + dx, 0, w, h], fill=second)
    elif pattern == "bands":
        draw.rectangle([0, h // 2 + dy, w, h], fill=second)
    elif pattern == "diagonal":
        draw.polygon([(0, h), (w, 0), (w, h)], fill=second)
    else:
        draw.rectangle([w // 4 + dx, h // 4 + dy, 3 * w // 4 + dx, 3 * h // 4 + dy], fill=second)
    pixels = np.asarray(image, np.int16) + rng.integers(-15, 16, (h, w, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def build_catalogue(path: Path, model: str, photos: Path, index: str) -> Path:
    """A catalogue at `path` of the photos on `model` and `index`, each product with its category."""
    from productlens import Catalog

    with Catalog.open(path, create=True, model=model, index=index) as shop:
        shop.add(photos)
        for product, (category, *_) in PRODUCTS.items():
            shop.update_product(product, category=category)
    return path


def write_photos(root: Path, per_product: int = 3, first_seed: int = 0) -> Path:
    """A folder tree, one sub-folder per product (the folder name is the product id)."""
    for n, product in enumerate(PRODUCTS):
        (root / product).mkdir(parents=True, exist_ok=True)
        for i in range(per_product):
            product_photo(product, 1000 * n + first_seed + i).save(root / product / f"{product}-{first_seed + i}.jpg",
                                                                   quality=95)
    return root
