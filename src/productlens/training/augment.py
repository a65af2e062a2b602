"""Image augmentation in PIL/numpy (no torchvision): random resized crop, flip, colour jitter,
shear and zoom (the seed code's ImageDataGenerator settings), then the model's preprocessing.

Every view is a pure function of (image, seed), so cached features are reproducible.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from PIL import Image, ImageEnhance

from ..models.transforms import PreprocessConfig, prepare


def random_view(image: Image.Image, config: PreprocessConfig, rng: np.random.Generator) -> np.ndarray:
    """One augmented (3, S, S) float32 view of an RGB image."""
    image = image.convert("RGB") if image.mode != "RGB" else image
    w, h = image.size
    # Random resized crop around the scale of the model's own centre crop: 0.45-1.3x its area
    # (35-100% of a square image at the usual 0.875 crop), aspect 3/4..4/3.
    crop_side = min(w, h) * min(1.0, config.crop)
    for _ in range(10):
        area = crop_side * crop_side * rng.uniform(0.45, 1.3)
        aspect = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        cw, ch = int(round(math.sqrt(area * aspect))), int(round(math.sqrt(area / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            break
    else:
        cw, ch = min(w, h), min(w, h)
        x0, y0 = (w - cw) // 2, (h - ch) // 2
    size = config.input_size
    # Shear (+-0.2) folded into the crop's affine map, as the seed code's shear_range=0.2.
    shear = rng.uniform(-0.2, 0.2)
    sx, sy = cw / size, ch / size
    coeffs = (sx, shear * sx, x0 - shear * sx * size / 2, 0.0, sy, y0)
    view = image.transform((size, size), Image.Transform.AFFINE, coeffs, Image.Resampling.BILINEAR)
    if rng.random() < 0.5:
        view = view.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        view = enhancer(view).enhance(float(rng.uniform(0.7, 1.3)))
    # The view is already input_size square: prepare() only scales it.
    return prepare(view, replace(config, resize_size=size, flip_tta=False))


def crop_view(image: Image.Image, config: PreprocessConfig, rng: np.random.Generator) -> np.ndarray:
    """One milder (3, S, S) view for the partial recipe, whose trained blocks see pixels' layout:
    a random resized crop of 55-100% of the centre crop's area, aspect 0.8-1.25, mirrored half of
    the time; no colour jitter or shear (the issue's scratch check trained on these)."""
    image = image.convert("RGB") if image.mode != "RGB" else image
    w, h = image.size
    crop_side = min(w, h) * min(1.0, config.crop)
    area = crop_side * crop_side * rng.uniform(0.55, 1.0)
    aspect = math.exp(rng.uniform(math.log(0.8), math.log(1.25)))
    cw, ch = min(w, int(round(math.sqrt(area * aspect)))), min(h, int(round(math.sqrt(area / aspect))))
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    size = config.input_size
    view = image.resize((size, size), Image.Resampling.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))
    if rng.random() < 0.5:
        view = view.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return prepare(view, replace(config, resize_size=size, flip_tta=False))


VIEW_STYLES = {"head": random_view, "crop": crop_view}


def make_views(image: Image.Image, config: PreprocessConfig, views: int, seed: int,
               style: str = "head") -> list[np.ndarray]:
    """View 0 is the plain centre crop (what search embeds); views 1.. are augmented in `style`."""
    out = [prepare(image, config)]
    rng = np.random.default_rng(seed)
    out += [VIEW_STYLES[style](image, config, rng) for _ in range(views - 1)]
    return out
