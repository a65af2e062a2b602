import numpy as np
import pytest
from PIL import Image

from productlens.errors import ModelError
from productlens.models import PreprocessConfig
from productlens.models.transforms import crop_box, prepare

pytestmark = pytest.mark.fast

CONFIG = PreprocessConfig(input_size=224, resize_size=256)


@pytest.mark.parametrize("size", [(640, 360), (360, 640), (348, 348), (3, 2), (1, 1)])
def test_prepare_shape_and_range(size):
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    out = prepare(image, CONFIG)
    assert out.shape == (3, 224, 224) and out.dtype == np.float32
    assert out.min() >= -1.0 and out.max() <= 1.0


def test_extremes_map_to_plus_minus_one():
    black = prepare(Image.new("RGB", (300, 300), (0, 0, 0)), CONFIG)
    white = prepare(Image.new("RGB", (300, 300), (255, 255, 255)), CONFIG)
    assert np.allclose(black, -127 / 128) and np.allclose(white, 1.0)


def test_crop_is_central_and_keeps_aspect():
    left, top, right, bottom = crop_box(512, 256, CONFIG)
    assert right - left == pytest.approx(bottom - top) == pytest.approx(224)
    assert left == pytest.approx(512 - right)


def test_non_rgb_input_is_converted():
    assert prepare(Image.new("L", (50, 80), 127), CONFIG).shape == (3, 224, 224)


def test_the_resampling_filter_is_part_of_the_config():
    stripes = np.zeros((64, 64, 3), np.uint8)
    stripes[:, ::2] = 255  # one-pixel stripes: each filter averages them differently
    image = Image.fromarray(stripes)
    small = PreprocessConfig(input_size=16, resize_size=16)
    out = {name: prepare(image, PreprocessConfig(16, 16, interpolation=name)) for name in ("nearest", "bilinear", "box")}
    assert np.array_equal(prepare(image, small), out["bilinear"])  # bilinear is the default
    assert not np.allclose(out["nearest"], out["bilinear"]) and not np.allclose(out["nearest"], out["box"])
    assert np.allclose(out["box"], (127.5 - 127) / 128, atol=0.02)  # box: the stripes average to mid grey


def test_config_round_trips_and_old_records_mean_bilinear():
    config = PreprocessConfig(240, 274, flip_tta=True, interpolation="bicubic")
    assert PreprocessConfig.from_dict(config.to_dict()) == config
    old = {"input_size": 224, "resize_size": 256, "mean": [127.0] * 3, "std": [128.0] * 3}  # saved before the field
    assert PreprocessConfig.from_dict(old).interpolation == "bilinear"


def test_an_unknown_filter_is_refused():
    with pytest.raises(ModelError, match="interpolation"):
        PreprocessConfig(224, 256, interpolation="magic")
