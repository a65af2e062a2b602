"""Pixel alignment: is one image a re-encoded, resized or cropped copy of the other?

Near-copy candidates come from cosines in the instance space, but there two photos of one product
taken a moment apart (a pile of apples, the camera a step to the left) can be as close as a
recompressed copy. A copy differs from its original only by a scale, a shift and compression
noise, so at the right scale and shift its pixels match; a second photo's do not (parallax, other
apples in other places). The check: both images as small grey thumbnails with their smooth shading
removed (high-pass), the smaller slid over the larger at a few scales, and the best normalised
cross-correlation. Most pairs are settled by a first look at 24 pixels; the rest at 48. On
Grocery (2,804 pairs of distinct photos of one product, 40 copies of 4 kinds made by `make_copy`),
copies scored 0.85-1.0 and the closest distinct pair, two shots of a carton seconds apart, 0.76:
ALIGNED sits between them. Flips, rotations and different aspect ratios are not copies here.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

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


def _window_sums(values: np.ndarray, side: int) -> np.ndarray:
    """Sums over every side x side window of a 2-D array (an integral image)."""
    table = np.pad(values, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    return table[side:, side:] - table[:-side, side:] - table[side:, :-side] + table[:-side, :-side]


@dataclass
class Look:
    """One image made ready for one level of the check (`side` pixels, enlarged by `scales`), as
    the larger image of a pair: each enlargement's spectrum and the inverse spread of each of its
    windows; and as the smaller: its own zero-mean, unit-norm thumbnail's conjugate spectrum,
    padded to each enlargement's size. A circular correlation at the larger size is the plain one
    for every offset that keeps the window inside, so a pair costs a product and an inverse FFT
    per scale and way round."""

    side: int
    larger: dict[int, tuple[np.ndarray, np.ndarray]]
    smaller: dict[int, np.ndarray]

    @classmethod
    def of(cls, image: Image.Image, side: int, scales: np.ndarray) -> "Look":
        own = high_pass(image, side).astype(np.float64)
        own -= own.mean()
        own /= np.linalg.norm(own) + 1e-6
        larger, smaller = {}, {}
        for size in sorted({int(round(side * s)) for s in scales}):
            enlarged = high_pass(image, size).astype(np.float64)
            spread = _window_sums(enlarged ** 2, side) - _window_sums(enlarged, side) ** 2 / side ** 2
            larger[size] = (np.fft.rfft2(enlarged).astype(np.complex64),
                            (1.0 / np.sqrt(np.maximum(spread, 1e-6))).astype(np.float32))
            smaller[size] = np.conj(np.fft.rfft2(own, s=(size, size))).astype(np.complex64)
        return cls(side, larger, smaller)


def best_correlation(larger: Look, smaller: Look) -> float:
    """The best normalised correlation of `smaller`'s thumbnail with any window of `larger`'s at
    any of its scales."""
    side, best = larger.side, -1.0
    for size, (spectrum, inverse_spread) in larger.larger.items():
        products = np.fft.irfft2(spectrum * smaller.smaller[size], s=(size, size))[: size - side + 1, : size - side + 1]
        best = max(best, float((products * inverse_spread).max()))
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
    its file is gone or unreadable) and kept as a small grey image and its first look, for the
    last CACHED images; second looks, needed by few pairs, for the last CACHED // 8."""

    CACHED = 2048

    def __init__(self, load: Callable[[Hashable], Image.Image | None]) -> None:
        self.load = load
        self._first: OrderedDict[Hashable, tuple[Image.Image, Look] | None] = OrderedDict()
        self._second: OrderedDict[Hashable, Look] = OrderedDict()

    def _first_look(self, key: Hashable) -> tuple[Image.Image, Look] | None:
        if key in self._first:
            self._first.move_to_end(key)
            return self._first[key]
        image = self.load(key)
        if image is not None:
            image = image.convert("L")
            image.thumbnail((DRAFT, DRAFT))
        entry = None if image is None else (image, Look.of(image, COARSE, COARSE_SCALES))
        self._first[key] = entry
        if len(self._first) > self.CACHED:
            self._first.popitem(last=False)
        return entry

    def _second_look(self, key: Hashable, image: Image.Image) -> Look:
        if key not in self._second:
            self._second[key] = Look.of(image, THUMB, SCALES)
            if len(self._second) > self.CACHED // 8:
                self._second.popitem(last=False)
        return self._second[key]

    def score(self, a: Hashable, b: Hashable) -> float | None:
        """The best correlation either way round (which is the crop is not known): at 48 pixels,
        or the first look's when that is already below COARSE_PASS; None when either image
        cannot be loaded."""
        first_a, first_b = self._first_look(a), self._first_look(b)
        if first_a is None or first_b is None:
            return None
        best = max(best_correlation(first_a[1], first_b[1]), best_correlation(first_b[1], first_a[1]))
        if best < COARSE_PASS:
            return best
        look_a, look_b = self._second_look(a, first_a[0]), self._second_look(b, first_b[0])
        return max(best_correlation(look_a, look_b), best_correlation(look_b, look_a))

    def aligned(self, a: Hashable, b: Hashable) -> bool:
        """True when the pair is a copy, or cannot be checked (an unreadable file: the caller decides by the cosine)."""
        score = self.score(a, b)
        return score is None or score >= ALIGNED
