"""Synthetic multi-product photos: product pictures pasted onto shelf-like backgrounds.

Used to train the detector on more kinds of products than the real shelf photos show, and to
measure detect-then-search end to end (each box knows which picture, hence which product, it
holds). Backgrounds are drawn procedurally (a wall colour, shelf boards, lighting gradient,
noise), so no labelled photo's unlabelled products leak in as false negatives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter


@dataclass
class Composite:
    """One synthetic photo, its boxes (x0, y0, x1, y1 pixels) and the index of the source picture
    pasted in each box."""

    image: Image.Image
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)
    sources: list[int] = field(default_factory=list)


def trim_white(image: Image.Image, threshold: int = 242) -> Image.Image:
    """A studio photo cropped to its content: the bounding box of pixels darker than `threshold`
    (catalogue pictures sit on white; pasting the white margin would make boxes too large)."""
    gray = np.asarray(image.convert("L"))
    ys, xs = np.nonzero(gray < threshold)
    if len(xs) < 16:
        return image
    return image.crop((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1))


def shelf_background(rng: np.random.Generator, width: int, height: int, rows: int) -> Image.Image:
    """A wall colour with a lighting gradient, `rows` shelf boards and sensor noise."""
    base = rng.uniform(40, 220, size=3)
    gradient = np.linspace(rng.uniform(0.7, 1.1), rng.uniform(0.7, 1.1), height)[:, None, None]
    pixels = np.ones((height, width, 3)) * base * gradient
    board = rng.uniform(30, 230, size=3)
    for r in range(1, rows + 1):
        y = int(r * height / rows) - 1
        thickness = max(2, int(height * rng.uniform(0.02, 0.05)))
        pixels[max(0, y - thickness) : y + 1] = board * rng.uniform(0.8, 1.1)
    pixels += rng.normal(0, rng.uniform(2, 10), size=pixels.shape)
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def _jitter(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Per-product lighting: brightness, contrast and colour vary as under shop lights."""
    image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.65, 1.25))
    image = ImageEnhance.Contrast(image).enhance(rng.uniform(0.75, 1.2))
    return ImageEnhance.Color(image).enhance(rng.uniform(0.7, 1.2))


def compose(
    pictures: list[Image.Image],
    rng: np.random.Generator,
    *,
    size: tuple[int, int] = (320, 320),
    max_products: int = 8,
) -> Composite:
    """A shelf photo of random products from `pictures` (indices recorded in `sources`).

    Products stand side by side on 1-3 shelves at random heights, sometimes overlapping their
    neighbour; in one photo in four they lie scattered (a basket, a checkout tray) instead.
    """
    width, height = size
    rows = int(rng.integers(1, 4))
    canvas = shelf_background(rng, width, height, rows)
    out = Composite(canvas)
    if rng.random() < 0.25:
        _scatter(out, pictures, rng, max_products)
    else:
        _shelves(out, pictures, rng, rows, max_products)
    _drop_hidden(out)
    if rng.random() < 0.3:
        out.image = out.image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    return out


def _drop_hidden(out: Composite, covered: float = 0.6) -> None:
    """Forget products mostly covered by ones pasted after them: nobody could find those."""
    keep = []
    for i, (x0, y0, x1, y1) in enumerate(out.boxes):
        area = max(1.0, (x1 - x0) * (y1 - y0))
        hidden = max(
            (max(0.0, min(x1, b[2]) - max(x0, b[0])) * max(0.0, min(y1, b[3]) - max(y0, b[1])) / area
             for b in out.boxes[i + 1 :]),
            default=0.0,
        )
        if hidden < covered:
            keep.append(i)
    out.boxes = [out.boxes[i] for i in keep]
    out.sources = [out.sources[i] for i in keep]


def _paste(out: Composite, pictures: list[Image.Image], index: int, x: int, y: int, h: int,
           rng: np.random.Generator) -> int:
    """Paste picture `index` scaled to height `h` with its top-left at (x, y); its width."""
    picture = pictures[index]
    w = max(8, round(h * picture.width / picture.height * rng.uniform(0.85, 1.15)))
    width, height = out.image.size
    if x >= width or w < 8:
        return w
    out.image.paste(_jitter(picture.resize((w, h), Image.Resampling.BILINEAR), rng), (x, y))
    box = (max(0, x), max(0, y), min(width, x + w), min(height, y + h))
    if (box[2] - box[0]) >= 0.5 * w and (box[3] - box[1]) >= 0.5 * h:
        out.boxes.append(tuple(float(v) for v in box))  # type: ignore[arg-type]
        out.sources.append(index)
    return w


def _shelves(out: Composite, pictures: list[Image.Image], rng: np.random.Generator, rows: int,
             max_products: int) -> None:
    width, height = out.image.size
    row_height = height / rows
    for r in range(rows):
        h = int(row_height * rng.uniform(0.45, 0.85))
        x = int(rng.uniform(-0.2, 0.3) * h)
        bottom = int((r + 1) * row_height * rng.uniform(0.97, 0.99))
        while x < width and len(out.boxes) < max_products:
            item_h = int(h * rng.uniform(0.8, 1.0))
            w = _paste(out, pictures, int(rng.integers(len(pictures))), x, bottom - item_h, item_h, rng)
            x += int(w * (1 + rng.uniform(-0.12, 0.35)))


def _scatter(out: Composite, pictures: list[Image.Image], rng: np.random.Generator, max_products: int) -> None:
    width, height = out.image.size
    for _ in range(int(rng.integers(1, max(2, max_products // 2) + 1))):
        h = int(min(width, height) * rng.uniform(0.2, 0.55))
        x = int(rng.uniform(-0.1, 0.9) * width)
        y = int(rng.uniform(-0.1, 0.9) * height - h / 3)
        _paste(out, pictures, int(rng.integers(len(pictures))), x, y, h, rng)
