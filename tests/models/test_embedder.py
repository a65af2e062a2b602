import io

import numpy as np
import pytest
from PIL import Image

from productlens.errors import ModelError
from productlens.models import create_embedder
from productlens.models.registry import get_spec


def test_embed_returns_unit_rows(lite0, grocery_images):
    images = grocery_images["golden"] + grocery_images["oatghurt"]
    vectors = lite0.embed(images)
    assert vectors.shape == (4, 1280) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_attributes(lite0):
    assert lite0.key == "efficientnet-lite0/imagenet/fp32"
    assert (lite0.dim, lite0.precision, lite0.version) == (1280, "fp32", "imagenet")
    assert lite0.draft_size == lite0.preprocess.resize_size == 256


def test_same_image_same_embedding(lite0, grocery_images):
    image = grocery_images["golden"][0]
    assert np.array_equal(lite0.embed([image]), lite0.embed([image]))


def test_reencoded_copy_is_closer_than_another_product(lite0, grocery_images):
    golden, other = grocery_images["golden"][0], grocery_images["oatghurt"][0]
    buffer = io.BytesIO()
    golden.resize((golden.width * 3 // 4, golden.height)).save(buffer, "JPEG", quality=70)
    copy = Image.open(buffer).convert("RGB")
    a, b, c = lite0.embed([golden, copy, other])
    assert a @ b > 0.9
    assert a @ b - a @ c > 0.3


def test_export_is_cached(lite0, model_dir):
    before = lite0.onnx_path.stat().st_mtime_ns
    again = create_embedder("efficientnet-lite0", model_dir=model_dir)
    assert again.onnx_path == lite0.onnx_path
    assert again.onnx_path.stat().st_mtime_ns == before
    assert not list(model_dir.glob("*.tmp"))


def test_onnx_matches_torch(lite0, grocery_images):
    import torch

    images = [grocery_images["golden"][0], grocery_images["oatghurt"][0]]
    batch = np.stack([lite0.prepare(image) for image in images])
    with torch.no_grad():
        eager = get_spec("efficientnet-lite0").build()(torch.from_numpy(batch)).numpy()
    eager /= np.linalg.norm(eager, axis=1, keepdims=True)
    assert np.all((eager * lite0.embed_arrays(batch)).sum(axis=1) > 0.999)


def test_int8_agrees_with_fp32_and_is_reused(lite0, grocery_images, tmp_path):
    images = grocery_images["golden"] + grocery_images["oatghurt"]
    int8 = create_embedder(precision="int8", model_dir=tmp_path, quantization_images=images)
    assert int8.key == "efficientnet-lite0/imagenet/int8"
    cosines = (int8.embed(images) * lite0.embed(images)).sum(axis=1)
    assert cosines.min() > 0.9
    mtime = int8.onnx_path.stat().st_mtime_ns
    reused = create_embedder(precision="int8", model_dir=tmp_path)
    assert reused.onnx_path == int8.onnx_path and reused.onnx_path.stat().st_mtime_ns == mtime


def test_int8_without_calibration_images(tmp_path):
    with pytest.raises(ModelError, match="calibration"):
        create_embedder(precision="int8", model_dir=tmp_path)


def test_flip_tta_averages_an_image_and_its_mirror(lite0, grocery_images):
    from dataclasses import replace

    from productlens.models import Embedder

    spec = get_spec("efficientnet-lite0")
    tta = Embedder(replace(spec, preprocess=replace(spec.preprocess, flip_tta=True)), "fp32", lite0.onnx_path)
    image = grocery_images["oatghurt"][0]
    mirror = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    plain, flipped = lite0.embed([image, mirror])
    expected = (plain + flipped) / np.linalg.norm(plain + flipped)
    (both,) = tta.embed([image])
    assert np.allclose(both, expected, atol=1e-5)
    assert plain @ flipped < 0.99  # the text on the package makes the two views differ
    assert np.allclose(tta.embed([mirror])[0], both, atol=1e-4)  # mirror-invariant
