"""Grocery Store embeddings for the scale benchmarks (computed once, cached as .npz).

    from grocery_vectors import grocery_embeddings
    train_vecs, train_labels, test_vecs, test_labels = grocery_embeddings()
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from productlens import settings

CACHE = Path(tempfile.gettempdir()) / "productlens-bench"


def split(name: str) -> tuple[list[Path], np.ndarray]:
    dataset = Path(str(settings.get("grocery_root"))) / "dataset"
    rows = [line.split(",") for line in (dataset / f"{name}.txt").read_text().splitlines() if line.strip()]
    return [dataset / r[0].strip() for r in rows], np.asarray([int(r[1]) for r in rows], np.int64)


def grocery_embeddings(model: str = "efficientnet-lite0") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train vectors, train fine labels, test vectors, test fine labels), L2-normalised float32."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"grocery-{model}.npz"
    if not path.exists():
        from productlens.models import create_embedder
        from productlens.pipeline import embed_sources

        embedder = create_embedder(model, "fp32")
        out = {}
        for name in ("train", "test"):
            paths, labels = split(name)
            results = list(embed_sources(embedder, paths))
            ok = [r.ok for r in results]
            out[name] = np.stack([r.vector for r in results if r.ok]).astype(np.float32)
            out[name + "_labels"] = labels[np.asarray(ok)]
        np.savez(path, **out)
    data = np.load(path)
    return data["train"], data["train_labels"], data["test"], data["test_labels"]
