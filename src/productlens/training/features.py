"""Backbone features of catalogue images, computed once per (image hash, view) and cached.

The cache is a small SQLite file inside the catalogue (`<catalog>/cache/features.sqlite`), apart
from catalog.db so that filling it never bumps the catalogue's generation. Re-training, eval and
the baselines reuse it; a view's seed depends only on the image hash, so a view is reproducible.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import ImageError
from ..images import ImageSource, load_image
from ..models import Embedder
from .augment import make_views

log = logging.getLogger(__name__)


def view_seed(sha256: str, seed: int) -> int:
    return (int(sha256[:12], 16) + 7919 * seed) % (2**63)


class FeatureCache:
    """(sha256, backbone key, view) -> a flat vector (float32 features, or float16 activations)."""

    def __init__(self, path: Path, dtype: type = np.float32) -> None:
        self.dtype = np.dtype(dtype)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, timeout=60, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS features (sha256 TEXT, backbone TEXT, view INTEGER, seed INTEGER,"
            " vector BLOB NOT NULL, PRIMARY KEY (sha256, backbone, view, seed))"
        )
        self._lock = threading.Lock()

    def get(self, backbone: str, sha256: str, views: int, seed: int) -> np.ndarray:
        """The cached views 0, 1, ... of an image, as many as are there up to `views` (maybe none)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT view, vector FROM features WHERE sha256 = ? AND backbone = ? AND seed = ? AND view < ?"
                " ORDER BY view",
                (sha256, backbone, seed, views),
            ).fetchall()
        prefix = [np.frombuffer(v, dtype=self.dtype) for n, (view, v) in enumerate(rows) if view == n]
        return np.stack(prefix) if prefix else np.zeros((0, 0), self.dtype)

    def put(self, backbone: str, sha256: str, seed: int, vectors: np.ndarray, first_view: int = 0) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO features VALUES (?, ?, ?, ?, ?)",
                [(sha256, backbone, first_view + i, seed, np.ascontiguousarray(v, dtype=self.dtype).tobytes())
                 for i, v in enumerate(vectors)],
            )
            self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()


def decode_views(embedder: Embedder, entry: tuple[str, ImageSource], views: int, seed: int, *,
                 mirror: bool = False, style: str = "head") -> list[np.ndarray] | None:
    """The `views` prepared views of one (sha256, source) photo (augment.make_views), or None
    (logged) when it cannot be decoded."""
    sha, source = entry
    try:
        image = load_image(source, draft_size=embedder.draft_size).image
    except (ImageError, OSError) as exc:
        log.warning("feature extraction skipped %s: %s", source, exc)
        return None
    if mirror:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return make_views(image, embedder.preprocess, views, view_seed(sha, seed), style)


def extract_features(
    embedder: Embedder,
    entries: Sequence[tuple[str, ImageSource]],
    *,
    views: int = 1,
    seed: int = 0,
    cache: FeatureCache | None = None,
    progress: Callable[[int], None] | None = None,
    batch_images: int = 16,
    mirror: bool = False,
    run: Callable[[np.ndarray], np.ndarray] | None = None,
    key: str | None = None,
) -> tuple[np.ndarray, list[int]]:
    """(n_ok, views, dim) features of (sha256, source) entries, and the indices that worked.

    View 0 is exactly what search embeds; views 1.. are augmented (see augment.py). Views already
    cached are not embedded again (a run with more views only adds the missing ones). `mirror`:
    the views of the mirror image (cached apart). `run` replaces the embedder's network (e.g. the
    front of it, for activations, flattened) under the cache key `key`. Images that cannot be
    decoded are left out (their index is missing from the returned list).
    """
    run = run or embedder.embed_arrays
    key = (key or embedder.key) + ("#mirror" if mirror else "")
    have: dict[int, np.ndarray] = {}
    for i, (sha, _) in enumerate(entries):
        have[i] = cache.get(key, sha, views, seed) if cache is not None else np.zeros((0, 0), np.float32)
    todo = [i for i in range(len(entries)) if len(have[i]) < views]
    out = {i: v for i, v in have.items() if len(v) >= views}
    if progress and len(out):
        progress(len(out))

    def decode(i: int) -> list[np.ndarray] | None:
        made = decode_views(embedder, entries[i], views, seed, mirror=mirror)
        return None if made is None else made[len(have[i]):]

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="augment") as pool:
        chunks = [todo[s : s + batch_images] for s in range(0, len(todo), batch_images)]
        futures = [pool.map(decode, chunks[0])] if chunks else []
        for n, chunk in enumerate(chunks):
            decoded = list(futures[n])
            if n + 1 < len(chunks):
                futures.append(pool.map(decode, chunks[n + 1]))
            good = [(i, v) for i, v in zip(chunk, decoded) if v is not None]
            if good:
                feats = iter(run(np.stack([a for _, vs in good for a in vs])))
                for i, vs in good:
                    new = np.stack([next(feats) for _ in vs])
                    if cache is not None:
                        cache.put(key, entries[i][0], seed, new, first_view=len(have[i]))
                    out[i] = np.concatenate([have[i], new]) if len(have[i]) else new
            if progress:
                progress(len(chunk))
    ok = sorted(out)
    return (np.stack([out[i] for i in ok]) if ok else np.zeros((0, views, embedder.dim), np.float32)), ok
