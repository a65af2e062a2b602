"""The front of a network's output for every photo and view of a run, in a memory-mapped file.

The partial recipe trains the blocks after a cut on what the blocks before it produce; these
activations are big (14x14x80 numbers a view after Lite0's block 8), so they are computed once
with ONNX Runtime, stored as float16 in `<catalog>/cache/activations/<name>.f16` and read through
numpy.memmap: a run over thousands of photos and several views never holds them all in memory.
The file is named by a digest of the network, cut, views, view style and photos, so another run
on the same photos reuses it; its `.json` beside it counts the photos done, so an interrupted
extraction resumes where it stopped instead of starting over.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..atomic import write_text
from ..images import ImageSource
from ..models import Embedder
from .features import decode_views

log = logging.getLogger(__name__)

CHUNK = 16  # photos decoded and run through the front graph at once


def activation_file(folder: Path, key: str, shas: Sequence[str], views: int, seed: int, style: str) -> Path:
    """Where the activations of these photos live: a readable prefix and a digest of what made them."""
    digest = hashlib.sha1("|".join([key, str(views), str(seed), style, *shas]).encode()).hexdigest()[:16]
    return folder / f"{re.sub(r'[^A-Za-z0-9.-]+', '_', key)[:60]}-{digest}.f16"


def cached_activations(folder: Path, key: str, embedder: Embedder, run: Callable[[np.ndarray], np.ndarray],
                       shape: tuple[int, ...], entries: Sequence[tuple[str, ImageSource]], *, views: int, seed: int,
                       style: str = "crop", progress: Callable[[int, int], None] | None = None,
                       ) -> tuple[np.memmap, list[int]]:
    """(n, views, *shape) float16 activations of (sha256, source) entries, memory-mapped, and the
    indices of the entries that could be decoded (the rows of the others stay zero). View 0 is the
    plain centre crop; `run` maps a (b, 3, S, S) batch to (b, *shape) activations."""
    path = activation_file(folder, key, [sha for sha, _ in entries], views, seed, style)
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() and path.exists() else {"done": 0, "failed": []}
    folder.mkdir(parents=True, exist_ok=True)
    full = (max(1, len(entries)), views, *shape)
    data = np.memmap(path, np.float16, "r+" if path.exists() else "w+", shape=full)
    done, failed = int(meta["done"]), set(meta["failed"])

    def decode(i: int) -> list[np.ndarray] | None:
        return decode_views(embedder, entries[i], views, seed, style=style)

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="augment") as pool:
        for start in range(done, len(entries), CHUNK):
            chunk = list(range(start, min(start + CHUNK, len(entries))))
            decoded = list(pool.map(decode, chunk))
            good = [(i, v) for i, v in zip(chunk, decoded) if v is not None]
            failed |= {i for i, v in zip(chunk, decoded) if v is None}
            if good:
                out = run(np.stack([a for _, vs in good for a in vs])).reshape(len(good), views, *shape)
                for (i, _), rows in zip(good, out):
                    data[i] = rows.astype(np.float16)
            data.flush()
            write_text(meta_path, json.dumps({"done": chunk[-1] + 1, "failed": sorted(failed), "shape": list(full)}))
            if progress:
                progress(chunk[-1] + 1, len(entries))
    return data, [i for i in range(len(entries)) if i not in failed]
