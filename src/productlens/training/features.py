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

from ..errors import ImageError
from ..images import ImageSource, load_image
from ..models import Embedder
from .augment import make_views

log = logging.getLogger(__name__)


def view_seed(sha256: str, seed: int) -> int:
    return (int(sha256[:12], 16) + 7919 * seed) % (2**63)


class FeatureCache:
    """(sha256, backbone key, view) -> float32 vector."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, timeout=60, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS features (sha256 TEXT, backbone TEXT, view INTEGER, seed INTEGER,"
            " vector BLOB NOT NULL, PRIMARY KEY (sha256, backbone, view, seed))"
        )
        self._lock = threading.Lock()

    def get(self, backbone: str, sha256: str, views: int, seed: int) -> np.ndarray | None:
        with self._lock:
            rows = self._db.execute(
                "SELECT view, vector FROM features WHERE sha256 = ? AND backbone = ? AND seed = ? AND view < ?",
                (sha256, backbone, seed, views),
            ).fetchall()
        if len(rows) < views:
            return None
        rows.sort()
        return np.stack([np.frombuffer(v, dtype=np.float32) for _, v in rows])

    def put(self, backbone: str, sha256: str, seed: int, vectors: np.ndarray) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO features VALUES (?, ?, ?, ?, ?)",
                [(sha256, backbone, i, seed, np.ascontiguousarray(v, dtype=np.float32).tobytes())
                 for i, v in enumerate(vectors)],
            )
            self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()


def extract_features(
    embedder: Embedder,
    entries: Sequence[tuple[str, ImageSource]],
    *,
    views: int = 1,
    seed: int = 0,
    cache: FeatureCache | None = None,
    progress: Callable[[int], None] | None = None,
    batch_images: int = 16,
) -> tuple[np.ndarray, list[int]]:
    """(n_ok, views, dim) features of (sha256, source) entries, and the indices that worked.

    View 0 is exactly what search embeds; views 1.. are augmented (see augment.py). Images that
    cannot be decoded are left out (their index is missing from the returned list).
    """
    out: dict[int, np.ndarray] = {}
    todo: list[int] = []
    for i, (sha, _) in enumerate(entries):
        hit = cache.get(embedder.key, sha, views, seed) if cache is not None else None
        if hit is not None:
            out[i] = hit
        else:
            todo.append(i)
    if progress and len(out):
        progress(len(out))

    def decode(i: int) -> list[np.ndarray] | None:
        sha, source = entries[i]
        try:
            image = load_image(source, draft_size=embedder.draft_size).image
        except (ImageError, OSError) as exc:
            log.warning("feature extraction skipped %s: %s", source, exc)
            return None
        return make_views(image, embedder.preprocess, views, view_seed(sha, seed))

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="augment") as pool:
        chunks = [todo[s : s + batch_images] for s in range(0, len(todo), batch_images)]
        futures = [pool.map(decode, chunks[0])] if chunks else []
        for n, chunk in enumerate(chunks):
            decoded = list(futures[n])
            if n + 1 < len(chunks):
                futures.append(pool.map(decode, chunks[n + 1]))
            good = [(i, v) for i, v in zip(chunk, decoded) if v is not None]
            if good:
                feats = embedder.embed_arrays(np.stack([a for _, vs in good for a in vs]))
                feats = feats.reshape(len(good), views, -1)
                for (i, _), f in zip(good, feats):
                    out[i] = f
                    if cache is not None:
                        cache.put(embedder.key, entries[i][0], seed, f)
            if progress:
                progress(len(chunk))
    ok = sorted(out)
    dim = embedder.dim
    return (np.stack([out[i] for i in ok]) if ok else np.zeros((0, views, dim), np.float32)), ok
