"""Pixel alignment: is one image a re-encoded, resized or cropped copy of the other?

Near-copy candidates come from cosines in the instance space, but there two photos of one product
taken a moment apart (a pile of apples, the camera a step to the left) can be as close as a
recompressed copy. A copy differs from its original only by a scale, a shift and compression
noise, so at the right scale and shift its pixels match; a second photo's do not (parallax, other
apples in other places). The check: both images as small grey thumbnails with their smooth shading
removed (high-pass), the smaller slid over the larger at a few scales, and the best normalised
cross-correlation. On Grocery's 59 Granny-Smith photos, `make_copy` copies scored 0.83-0.99 and
the closest pair of distinct photos 0.46; ALIGNED sits between them. Flips, rotations and
different aspect ratios are not copies here.
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


def _window_sums(values: np.ndarray) -> np.ndarray:
    """Sums over every THUMB x THUMB window of a 2-D array (an integral image)."""
    table = np.pad(values, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    return table[THUMB:, THUMB:] - table[:-THUMB, THUMB:] - table[THUMB:, :-THUMB] + table[:-THUMB, :-THUMB]


def _best_correlation(larger: dict[int, np.ndarray], smaller: np.ndarray) -> float:
    """The best normalised correlation of `smaller` (zero-mean, unit norm, THUMB x THUMB) with
    any window of the `larger` image's thumbnail at any of SCALES."""
    from scipy.signal import correlate

    best = -1.0
    for scale in SCALES:
        image = larger[int(round(THUMB * scale))].astype(np.float64)
        products = correlate(image, smaller, mode="valid", method="fft")  # smaller sums to 0: no mean term
        n = THUMB * THUMB
        spread = _window_sums(image ** 2) - _window_sums(image) ** 2 / n
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
        """{side: high-pass thumbnail} at THUMB and every scale's side, float16 to stay small."""
        if key in self._thumbs:
            self._thumbs.move_to_end(key)
            return self._thumbs[key]
        image = self.load(key)
        sizes = {THUMB, *(int(round(THUMB * s)) for s in SCALES)}
        thumbs = None if image is None else {n: high_pass(image, n).astype(np.float16) for n in sizes}
        self._thumbs[key] = thumbs
        if len(self._thumbs) > self.CACHED:
            self._thumbs.popitem(last=False)
        return thumbs

    def score(self, a: Hashable, b: Hashable) -> float | None:
        """The best correlation either way round (which is the crop is not known); None when
        either image cannot be loaded."""
        thumbs_a, thumbs_b = self._thumbnails(a), self._thumbnails(b)
        if thumbs_a is None or thumbs_b is None:
            return None
        return max(_best_correlation(thumbs_a, _unit(thumbs_b[THUMB].astype(np.float64))),
                   _best_correlation(thumbs_b, _unit(thumbs_a[THUMB].astype(np.float64))))

    def aligned(self, a: Hashable, b: Hashable) -> bool:
        """True when the pair is a copy, or cannot be checked (an unreadable file: the cosine alone decides)."""
        score = self.score(a, b)
        return score is None or score >= ALIGNED
