"""A model's PCA reduction as the catalogue records it (`index build --reduce N`).

The reducer is part of how a catalogue embeds, not a cache: its file lives in `models/` and the
store's meta names it (`reducer:<model key>` = {"file", "dim", "whiten"}). A new reducer's file
is written first under a fresh name and only then named in the store (by LiveIndex.save, in the
same write as the index kind), so a killed build leaves at most an unreferenced file, which the
next build removes.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from .. import meta_keys
from ..errors import DimensionMismatchError, VectorIndexError
from .compress import PcaReducer

log = logging.getLogger(__name__)

FIT_MAX = 100_000  # stored vectors a reducer is fitted on at most (a uniform sample beyond)


class VectorSource(Protocol):
    """The part of the catalogue's store a reducer is read from and fitted on."""

    def get_meta(self, key: str, default: str | None = None) -> str | None: ...

    def embedding_ids(self, model_key: str) -> np.ndarray: ...

    def embeddings(self, model_key: str, image_ids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]: ...


def slug(model_key: str) -> str:
    """A model key as a file-name part: `efficientnet-lite0/imagenet/fp32` -> `efficientnet-lite0_imagenet_fp32`."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", model_key)


def recorded(store: VectorSource, model_key: str) -> dict | None:
    """The store's record of the model's reducer, or None for full vectors."""
    raw = store.get_meta(meta_keys.REDUCER.format(model_key))
    return json.loads(raw) if raw else None


def load_reducer(store: VectorSource, root: Path, model_key: str, model_dim: int,
                 remote: bool) -> tuple[PcaReducer | None, str | None]:
    """(reducer, its file) as the store's meta names them; the reducer is None for full vectors,
    and also when its file is unusable (a warning; the file name is kept so that the next
    `rebuild` replaces or drops it) or the index is a server's (it holds full vectors)."""
    record = recorded(store, model_key)
    if record is None:
        return None, None
    name = record["file"]
    if remote:
        log.warning("a server index holds full vectors; the PCA reduction %s is not used with it", name)
        return None, name
    try:
        reducer = PcaReducer.load(root / name)
    except VectorIndexError as exc:  # the index is then rebuilt over full vectors, still correct
        log.warning("%s; searching full vectors until `index build` is run again", exc)
        return None, name
    if reducer.in_dim != model_dim:
        raise DimensionMismatchError(
            f"reducer {name} takes {reducer.in_dim}-d vectors but model {model_key} makes {model_dim}-d"
        )
    return reducer, name


def fit_reducer(store: VectorSource, model_key: str, dim: int, *, whiten: bool = False, seed: int = 0) -> PcaReducer:
    """A PCA to `dim` fitted on the model's stored vectors (a sample of FIT_MAX at most)."""
    ids = store.embedding_ids(model_key)
    if len(ids) > FIT_MAX:
        picked = np.sort(np.random.default_rng(seed).choice(ids, FIT_MAX, replace=False))
        _, vectors = store.embeddings(model_key, picked.tolist())
    else:
        _, vectors = store.embeddings(model_key)
    return PcaReducer.fit(vectors, dim, whiten=whiten)


def save_reducer(root: Path, model_key: str, reducer: PcaReducer) -> str:
    """Write a reducer's file under a fresh name in `models/`; returns that name, relative to `root`."""
    name = f"models/{slug(model_key)}.pca{reducer.out_dim}-{os.urandom(4).hex()}.npz"
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    reducer.save(root / name)
    return name


def remove_unreferenced(root: Path, model_key: str, keep: str | None) -> None:
    """Delete the model's reducer files other than `keep` (left by a build that was killed or replaced)."""
    for path in (root / "models").glob(f"{slug(model_key)}.pca*.npz"):
        if path.relative_to(root).as_posix() != keep:
            path.unlink(missing_ok=True)
