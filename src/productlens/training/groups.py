"""Burst groups: photos of one product taken moments apart, which a validation split keeps together.

A validation photo that is a near-copy of a training photo says nothing about a shopper's new
photo, and catalogues are often shot in bursts. Two photos of the same product are linked when
  - their embeddings are as close as a burst copy of an image is to the image itself
    (`burst_threshold`: a small shift, zoom, tilt, exposure change and re-encoding, measured on
    the catalogue's own images with its own model), or
  - they are consecutive frames of one numbered sequence (IMG_0041.jpg, IMG_0042.jpg in one
    folder), or were captured within `CAPTURE_SECONDS` of each other, and are also closer than
    a typical near miss from another product (`related_threshold`).
The groups are the connected components of those links.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePath

import numpy as np
from PIL import Image, ImageEnhance

CAPTURE_SECONDS = 2.0  # photos taken this close together are one burst
BURST_QUANTILE = 0.05  # a pair at least as close as 95% of synthetic burst copies is a burst
_FRAME = re.compile(r"^(.*?)(\d+)$")


@dataclass(frozen=True)
class Photo:
    """What grouping needs to know about one catalogue image."""

    product_id: str
    source: str | None = None  # file path, for numbered sequences
    captured: float | None = None  # capture time (seconds since the epoch), from EXIF


class _Components:
    """Union-find over n items."""

    def __init__(self, n: int) -> None:
        self.parent = np.arange(n)

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return int(root)

    def union(self, i: int, j: int) -> None:
        self.parent[self.find(i)] = self.find(j)

    def labels(self) -> np.ndarray:
        roots = np.array([self.find(i) for i in range(len(self.parent))])
        return np.unique(roots, return_inverse=True)[1]


def frame_key(source: str | None) -> tuple[str, int] | None:
    """(folder + name stem, frame number) of a numbered file name, e.g. ('shop/IMG_', 41)."""
    if not source:
        return None
    path = PurePath(source)
    match = _FRAME.match(path.stem)
    if not match:
        return None
    return str(path.parent / match.group(1)), int(match.group(2))


def related_threshold(vectors: np.ndarray, product_ids: Sequence[str], rows: np.ndarray | None = None) -> float:
    """The median cosine between an image (of `rows`, default all) and its nearest image of
    another product: photos of one product closer than this are as alike as a typical near miss."""
    labels = np.unique(np.asarray(product_ids), return_inverse=True)[1]
    rows = np.arange(len(vectors)) if rows is None else np.asarray(rows)
    best = np.full(len(rows), -np.inf)
    for start in range(0, len(rows), 1024):
        chunk = rows[start:start + 1024]
        sims = vectors[chunk] @ vectors.T
        sims[labels[chunk, None] == labels[None, :]] = -np.inf
        best[start:start + 1024] = sims.max(axis=1)
    valid = np.isfinite(best)
    return float(np.median(best[valid])) if valid.any() else 1.0


def burst_groups(vectors: np.ndarray, photos: Sequence[Photo], *, burst: float, related: float,
                 seconds: float = CAPTURE_SECONDS) -> np.ndarray:
    """A group number per photo (see the module docstring); groups never span two products."""
    vectors = np.asarray(vectors, dtype=np.float32)
    components = _Components(len(photos))
    by_product: dict[str, list[int]] = {}
    for i, photo in enumerate(photos):
        by_product.setdefault(photo.product_id, []).append(i)
    for members in by_product.values():
        idx = np.asarray(members)
        sims = vectors[idx] @ vectors[idx].T
        rows, cols = np.nonzero(np.triu(sims >= burst, 1))
        for a, b in zip(rows.tolist(), cols.tolist()):
            components.union(int(idx[a]), int(idx[b]))
        position = {int(i): n for n, i in enumerate(idx)}
        frames = {frame_key(photos[i].source): i for i in members}
        frames.pop(None, None)
        for (stem, number), i in frames.items():
            j = frames.get((stem, number + 1))
            if j is not None and sims[position[i], position[j]] >= related:
                components.union(i, j)
        timed = sorted((photos[i].captured, i) for i in members if photos[i].captured is not None)
        for (t0, i), (t1, j) in zip(timed, timed[1:]):
            if t1 - t0 <= seconds and sims[position[i], position[j]] >= related:
                components.union(i, j)
    return components.labels()


def burst_copy(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The next frame of a burst, as far as a camera held by hand moves: the view shifted by up to
    6% and zoomed by up to 15%, tilted by up to 4 degrees, exposure +-15%, JPEG re-encoded."""
    image = image.convert("RGB")
    w, h = image.size
    scale = rng.uniform(0.85, 1.0)
    dx, dy = rng.uniform(-0.06, 0.06) * w, rng.uniform(-0.06, 0.06) * h
    left, top = (w - w * scale) / 2 + dx, (h - h * scale) / 2 + dy
    frame = image.rotate(float(rng.uniform(-4, 4)), resample=Image.Resampling.BILINEAR)
    frame = frame.crop((left, top, left + w * scale, top + h * scale)).resize((w, h), Image.Resampling.BILINEAR)
    frame = ImageEnhance.Brightness(frame).enhance(float(rng.uniform(0.85, 1.15)))
    encoded = io.BytesIO()
    frame.save(encoded, "JPEG", quality=int(rng.integers(70, 95)))
    return Image.open(io.BytesIO(encoded.getvalue())).convert("RGB")


def burst_threshold(embed: Callable[[list[Image.Image]], np.ndarray], images: Sequence[Image.Image],
                    seed: int = 0) -> float:
    """The cosine that 95% of synthetic burst copies of `images` keep to their original, in the
    model's own embedding space (`embed`: images -> unit rows)."""
    if not images:
        raise ValueError("a burst threshold needs at least one image")
    rng = np.random.default_rng(seed)
    originals = embed(list(images))
    copies = embed([burst_copy(image, rng) for image in images])
    return float(np.quantile((originals * copies).sum(axis=1), BURST_QUANTILE))
