"""Whether a model version may replace the active one: never worse on the same validation photos.

The comparison `train` recorded against the model that is still active is used as it is.
Otherwise the two are compared now, both as they are, on the photos that validated the newer of
them (held-out catalogue photos, or labelled photos from outside the catalogue): each photo is
searched against the rest of the catalogue and recognised, with each model's own embeddings and
recogniser (training/compare.py). A version trained with cross-validation, or without any
validation, has no photos the other model did not learn from: it can only be compared by the run
that trained it, against the model that was active then.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..catalog.store import CatalogStore, ModelRecord
from ..models import Embedder
from ..pipeline import embed_sources
from ..training.classify import load_head
from ..training.compare import Comparison, compare, fold_answers, side
from .recognize import recognizer_of


def version_meta(models_dir: Path, record: ModelRecord) -> Mapping[str, Any]:
    """A trained version's version.json (empty for an off-the-shelf model)."""
    path = models_dir / record.version / "version.json"
    return json.loads(path.read_text()) if record.info.get("onnx") and path.exists() else {}


def head_of(models_dir: Path, record: ModelRecord) -> dict[str, Any] | None:
    return load_head(models_dir / record.version) if record.info.get("classifier") else None


def recorded(models_dir: Path, target: ModelRecord, active: ModelRecord) -> Comparison | None:
    """The comparison the target's training run made against the model that is still active."""
    saved = version_meta(models_dir, target).get("comparison")
    return Comparison.from_dict(saved) if saved and saved.get("against") == active.key else None


def held_out_photos(models_dir: Path, target: ModelRecord, active: ModelRecord) -> list[dict[str, Any]]:
    """The validation photos of the newer of the two versions that held photos out."""
    metas = sorted((version_meta(models_dir, r) for r in (target, active)), key=lambda m: m.get("created_at", ""),
                   reverse=True)
    for meta in metas:
        validation = meta.get("validation") or {}
        if validation.get("kind") in ("groups", "photos") and validation.get("photos"):
            return list(validation["photos"])
    return []


def compare_versions(store: CatalogStore, models_dir: Path, target: ModelRecord, active: ModelRecord,
                     embedders: Mapping[str, Embedder]) -> Comparison:
    """The comparison that decides activation (see the module docstring)."""
    saved = recorded(models_dir, target, active)
    if saved is not None:
        return saved
    photos = held_out_photos(models_dir, target, active)
    if not photos:
        return compare(active.key, None, None, 0)
    held = {int(p["image"]) for p in photos if "image" in p}
    outside = [p for p in photos if "source" in p]
    images = store.get_images()
    val_images = [im for im in images if im.id in held]
    gallery_images = [im for im in images if im.id not in held]
    products = sorted({im.product_id for im in images})
    sides = []
    for record in (active, target):
        stored = _stored(store, record.key, [im.id for im in val_images + gallery_images])
        vectors = [stored.get(im.id) for im in val_images] + _embed(embedders[record.key], outside)
        owners = [im.product_id for im in val_images] + [p["product"] for p in outside]
        gallery = [(im.product_id, stored[im.id]) for im in gallery_images if im.id in stored]
        pairs = [(owner, v) for owner, v in zip(owners, vectors) if v is not None]
        if not pairs or not gallery:
            return compare(active.key, None, None, 0)
        head = head_of(models_dir, record)
        recognizer = recognizer_of(store, record, head)
        answers = fold_answers(products, np.stack([v for _, v in pairs]), [o for o, _ in pairs],
                               np.stack([v for _, v in gallery]), [o for o, _ in gallery], head, recognizer.scale)
        sides.append((side([answers], recognizer, len(products)), len(pairs)))
    (before, n), (after, _) = sides
    return compare(active.key, before, after, n)


def _stored(store: CatalogStore, model_key: str, image_ids: Sequence[int]) -> dict[int, np.ndarray]:
    ids, vectors = store.embeddings(model_key, list(image_ids))
    return dict(zip(ids.tolist(), vectors))


def _embed(embedder: Embedder, photos: Sequence[Mapping[str, Any]]) -> list[np.ndarray | None]:
    if not photos:
        return []
    return [r.vector for r in embed_sources(embedder, list(photos), source_of=lambda p: p["source"])]
