"""Pixel alignment: is one image a re-encoded, resized or cropped copy of the other?

Near-copy candidates come from cosines in the instance space, but there two photos of one product
taken a moment apart (a pile of apples, the camera a step to the left) can be as close as a
recompressed copy. A copy differs from its original only by a scale, a shift and compression
noise, so at the right scale and shift its pixels match; a second photo's do not (parallax, other
apples in other places). The check: both images as small grey thumbnails with their smooth shading
removed (high-pass), the smaller slid over the larger at a few scales, and the best normalised
cross-correlation. Most pairs are settled by a first look at 24 pixels; the rest at 48. On
Grocery (2,804 pairs of distinct photos of one product, 40 copies of 4 kinds made by `make_copy`),
copies scored 0.85-1.0 and the closest distinct pair, two shots of a carton seconds apart, 0.75:
ALIGNED sits between them. Flips, rotations and different aspect ratios are not copies here.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np
from PIL import Image, ImageFilter

from ..errors import ImageError
from ..images import load_image

THUMB = 48  # side of the compared thumbnails, in pixels
SCALES = np.arange(1.0, 1.31, 0.03)  # the larger image is enlarged by these: crops down to 77% of a side
COARSE, COARSE_SCALES = 24, np.arange(1.0, 1.31, 0.06)  # a first look at a quarter of the pixels
COARSE_PASS = 0.6  # below this at the first look, no copy (copies: >= 0.83; 99% of distinct pairs: < 0.56)
BLUR = 2.0  # Gaussian radius of the shading the high-pass removes
ALIGNED = 0.8  # best correlation at or above which a pair counts as a copy
DRAFT = 2 * THUMB  # JPEGs decode at a reduced scale: the thumbnails need no more


def high_pass(image: Image.Image, size: int) -> np.ndarray:
    """`image` as a size x size grey array without its smooth shading (image minus its blur)."""
    grey = image.convert("L").resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(grey, np.float32) - np.asarray(grey.filter(ImageFilter.GaussianBlur(BLUR)), np.float32)


def _unit(values: np.ndarray) -> np.ndarray:
    values = values - values.mean()
    return values / (np.linalg.norm(values) + 1e-6)


def _window_sums(values: np.ndarray, side: int) -> np.ndarray:
    """Sums over every side x side window of a 2-D array (an integral image)."""
    table = np.pad(values, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    return table[side:, side:] - table[:-side, side:] - table[side:, :-side] + table[:-side, :-side]


def _best_correlation(larger: dict[int, np.ndarray], smaller: np.ndarray, scales: np.ndarray) -> float:
    """The best normalised correlation of `smaller` (zero-mean, unit norm, side x side) with any
    window of the `larger` image's thumbnail at any of `scales`. A circular correlation at the
    larger size is the plain one for every offset that keeps the window inside (numpy's FFT)."""
    side = smaller.shape[0]
    best = -1.0
    for scale in scales:
        image = larger[int(round(side * scale))].astype(np.float64)
        size = image.shape[0]
        spectrum = np.fft.rfft2(image) * np.conj(np.fft.rfft2(smaller, s=image.shape))
        products = np.fft.irfft2(spectrum, s=image.shape)[: size - side + 1, : size - side + 1]
        spread = _window_sums(image ** 2, side) - _window_sums(image, side) ** 2 / side ** 2
        best = max(best, float((products / np.sqrt(np.maximum(spread, 1e-6))).max()))
    return best


def decoded(read: Callable[[Hashable], bytes | None]) -> Callable[[Hashable], Image.Image | None]:
    """An `Aligner` loader from a reader of image bytes (None, or undecodable bytes: no image)."""

    def load(key: Hashable) -> Image.Image | None:
        data = read(key)
        try:
            return None if data is None else load_image(data, draft_size=DRAFT).image
        except ImageError:
            return None

    return load


class Aligner:
    """Alignment scores of image pairs. Each image is loaded once (`load` gives it, or None when
    its file is gone or unreadable) and kept only as its thumbnails, for the last CACHED images."""

    CACHED = 2048

    def __init__(self, load: Callable[[Hashable], Image.Image | None]) -> None:
        self.load = load
        self._thumbs: OrderedDict[Hashable, dict[int, np.ndarray] | None] = OrderedDict()

    def _thumbnails(self, key: Hashable) -> dict[int, np.ndarray] | None:
        """{side: high-pass thumbnail} at both looks' sides and every scale's, float16 to stay small."""
        if key in self._thumbs:
            self._thumbs.move_to_end(key)
            return self._thumbs[key]
        image = self.load(key)
        sizes = {int(round(side * s)) for side, scales in ((COARSE, COARSE_SCALES), (THUMB, SCALES)) for s in scales}
        thumbs = None if image is None else {n: high_pass(image, n).astype(np.float16) for n in sizes}
        self._thumbs[key] = thumbs
        if len(self._thumbs) > self.CACHED:
            self._thumbs.popitem(last=False)
        return thumbs

    def score(self, a: Hashable, b: Hashable) -> float | None:
        """The best correlation either way round (which is the crop is not known): at 48 pixels,
        or the first look's when that is already below COARSE_PASS; None when either image
        cannot be loaded."""
        thumbs_a, thumbs_b = self._thumbnails(a), self._thumbnails(b)
        if thumbs_a is None or thumbs_b is None:
            return None
        best = -1.0
        for side, scales in ((COARSE, COARSE_SCALES), (THUMB, SCALES)):
            best = max(_best_correlation(thumbs_a, _unit(thumbs_b[side].astype(np.float64)), scales),
                       _best_correlation(thumbs_b, _unit(thumbs_a[side].astype(np.float64)), scales))
            if best < COARSE_PASS:
                break
        return best

    def aligned(self, a: Hashable, b: Hashable) -> bool:
        """True when the pair is a copy, or cannot be checked (an unreadable file: the caller decides by the cosine)."""
        score = self.score(a, b)
        return score is None or score >= ALIGNED
