import numpy as np
import pytest
from PIL import Image

from productlens.models.transforms import PreprocessConfig, prepare
from productlens.training.augment import make_views

pytestmark = pytest.mark.fast


def framed_square(size: int = 300, border: int = 60) -> Image.Image:
    """Blue product in the middle of a red background."""
    pixels = np.zeros((size, size, 3), np.uint8)
    pixels[..., 0] = 255
    pixels[border:-border, border:-border] = (0, 0, 255)
    return Image.fromarray(pixels)


def red_share(view: np.ndarray) -> float:
    return float(((view[0] > 0) & (view[2] < 0)).mean())


def test_views_are_reproducible_and_view_zero_is_what_search_embeds():
    image, config = framed_square(), PreprocessConfig(64, 73)
    first, again = make_views(image, config, 4, seed=7), make_views(image, config, 4, seed=7)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert np.array_equal(first[0], prepare(image, config))
    assert not np.array_equal(first[1], make_views(image, config, 4, seed=8)[1])


def test_augmented_views_zoom_with_the_models_crop():
    """A tighter centre crop makes the random crops tighter too: less background in the views."""
    image = framed_square()
    wide, tight = PreprocessConfig(64, 64), PreprocessConfig(64, 64).with_crop(0.6)
    wide_red = np.mean([red_share(v) for v in make_views(image, wide, 40, seed=1)[1:]])
    tight_red = np.mean([red_share(v) for v in make_views(image, tight, 40, seed=1)[1:]])
    assert red_share(prepare(image, tight)) == 0.0 < red_share(prepare(image, wide))
    assert tight_red < 0.75 * wide_red
