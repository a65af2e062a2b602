"""Shared fixtures: a few real Grocery Store photos, generated bad files, a tiny catalogue."""

from __future__ import annotations

import io
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


from support import DATASET, GROCERY, TINY_PRODUCTS, require_grocery, split_photos  # noqa: F401


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory) -> Path:
    """One ONNX export per test session, shared by every catalogue the tests create."""
    import os

    cache = tmp_path_factory.mktemp("productlens-cache")
    os.environ["PRODUCTLENS_CACHE_DIR"] = str(cache)
    return cache


@pytest.fixture(scope="session")
def tiny_photos_dir(tmp_path_factory) -> Path:
    """A folder tree: one sub-folder per product with 3 real train photos each."""
    require_grocery()
    root = tmp_path_factory.mktemp("photos")
    for pid, folder in TINY_PRODUCTS.items():
        (root / pid).mkdir()
        for photo in split_photos("train", folder, 3):
            shutil.copy(photo, root / pid / photo.name)
    return root


@pytest.fixture(scope="session")
def query_photos() -> dict[str, Path]:
    """One held-out test photo per tiny product."""
    require_grocery()
    return {pid: split_photos("test", folder, 1)[0] for pid, folder in TINY_PRODUCTS.items()}


@pytest.fixture(scope="session")
def tiny_catalog_template(tmp_path_factory, model_cache, tiny_photos_dir) -> Path:
    """A catalogue built once from tiny_photos_dir; tests copy it rather than re-embedding."""
    from productlens import Catalog

    path = tmp_path_factory.mktemp("tiny") / "shop"
    with Catalog.open(path, create=True) as catalog:
        catalog.add(tiny_photos_dir)
    return path


def fresh_copy(template: Path, folder: Path) -> Path:
    """A test's own copy of a session-wide catalogue, so that it can write to it."""
    shutil.copytree(template, folder / "shop")
    return folder / "shop"


@pytest.fixture
def tiny_catalog(tiny_catalog_template, tmp_path) -> Path:
    return fresh_copy(tiny_catalog_template, tmp_path)


# --- generated bad and unusual files ------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims width x height pixels (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _encoded(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def sample_rgb(size=(160, 120)) -> Image.Image:
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    arr[:, : size[0] // 2] = (200, 30, 30)
    return Image.fromarray(arr, "RGB")


@pytest.fixture(scope="session")
def bad_files(tmp_path_factory) -> dict[str, Path]:
    """Files that must be reported and skipped: name -> path."""
    root = tmp_path_factory.mktemp("bad")
    good_jpeg = _encoded(sample_rgb((400, 300)), "JPEG", quality=90)
    files = {
        "empty.jpg": b"",
        "notes.jpg": b"this is a text file, not a photo\n",
        "truncated.jpg": good_jpeg[: len(good_jpeg) // 3],
        "garbage.png": b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 50,
        "bomb.png": bomb_png(),
    }
    out = {}
    for name, data in files.items():
        (root / name).write_bytes(data)
        out[name] = root / name
    return out


@pytest.fixture(scope="session")
def odd_files(tmp_path_factory) -> dict[str, Path]:
    """Valid but unusual images that must be converted and embedded: name -> path."""
    root = tmp_path_factory.mktemp("odd")
    base = sample_rgb()
    gray16 = Image.fromarray((np.linspace(0, 65535, 160 * 120).reshape(120, 160)).astype(np.uint16))
    palette = base.convert("P", palette=Image.Palette.ADAPTIVE)
    rgba = base.convert("RGBA")
    rgba.putalpha(128)
    frames = [base, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise for display
    files = {
        "cmyk.jpg": _encoded(base.convert("CMYK"), "JPEG"),
        "gray16.png": _encoded(gray16, "PNG"),
        "palette_alpha.png": _encoded(palette, "PNG", transparency=0),
        "rgba.png": _encoded(rgba, "PNG"),
        "animated.gif": _encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100),
        "rotated.jpg": _encoded(base, "JPEG", exif=exif),
        "gray.jpg": _encoded(base.convert("L"), "JPEG"),
    }
    out = {}
    for name, data in files.items():
        (root / name).write_bytes(data)
        out[name] = root / name
    return out


# --- the fast tier: a tiny ONNX network, synthetic photos, the in-memory index --------------


@pytest.fixture(scope="session")
def tiny_model(model_cache) -> str:
    """The name of the registered tiny test network (tests/tiny.py), its ONNX file in the session cache."""
    from tiny import register_tiny_model

    return register_tiny_model(model_cache)


@pytest.fixture(scope="session")
def fast_photos(tmp_path_factory) -> Path:
    """A folder tree of synthetic product photos: four products, three photos each."""
    from tiny import write_photos

    return write_photos(tmp_path_factory.mktemp("fast-photos"))


@pytest.fixture(scope="session")
def fast_queries(tmp_path_factory) -> dict[str, Path]:
    """One held-out photo per synthetic product."""
    from tiny import PRODUCTS, product_photo

    root = tmp_path_factory.mktemp("fast-queries")
    out = {}
    for n, product in enumerate(PRODUCTS):
        out[product] = root / f"{product}.jpg"
        product_photo(product, 1000 * n + 500).save(out[product], quality=95)
    return out


@pytest.fixture(scope="session")
def fast_catalog_template(tmp_path_factory, tiny_model, fast_photos) -> Path:
    """A catalogue of the synthetic products on the tiny network and the in-memory index."""
    from tiny import build_catalogue

    return build_catalogue(tmp_path_factory.mktemp("fast") / "shop", tiny_model, fast_photos, "memory")


@pytest.fixture
def fast_catalog(fast_catalog_template, tmp_path) -> Path:
    return fresh_copy(fast_catalog_template, tmp_path)


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory):
    """A standalone Milvus server in a temp dir on free ports; fails (never skips) if it cannot start."""
    from productlens.index.milvus import start_local_server

    server, uri = start_local_server(str(tmp_path_factory.mktemp("milvus")))
    try:
        yield uri
    finally:
        server.stop()
