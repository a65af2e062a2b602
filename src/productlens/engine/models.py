"""The embedder a model version needs, and the version's embeddings: `embed_missing` embeds every
image still missing an embedding for the version (resumable: each batch is committed). Listing
versions, comparing and switching them is versions.py's work.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from .. import meta_keys
from ..catalog.media import MediaStore
from ..catalog.store import CatalogStore, ImageRecord, ModelRecord
from ..errors import ModelMismatchError, TrainingError
from ..models import Embedder, create_embedder
from ..models.trained import embedder_for_record
from ..pipeline import embed_sources
from ..results import ActivationReport

WRITE_EVERY = 256  # embeddings per transaction while a version catches up


def load_embedder(folder: Path, name: str, precision: str, *, record: ModelRecord | None = None,
                  quantization_images: Sequence[Image.Image] | None = None) -> Embedder:
    """The embedder of a model record of this catalogue (a trained version's ONNX file, or a
    registered network), or of network `name` at `precision` while the catalogue has none.
    fp32 files are shared from the user cache; INT8 ones are calibrated on this catalogue and
    live in its `models/` folder."""
    if record is not None and record.info.get("onnx"):
        return embedder_for_record(folder, record)
    if record is not None:
        name, precision = record.name, record.precision
    model_dir = None
    if precision == "int8":
        model_dir = folder / "models"
        model_dir.mkdir(parents=True, exist_ok=True)
    return create_embedder(name, precision, model_dir=model_dir, quantization_images=quantization_images)


def register_first_model(store: CatalogStore, embedder: Embedder) -> None:
    """Record the embedder as the catalogue's model the first time one is used; afterwards check
    that it is the active one (vectors of two models are not comparable)."""
    active = store.get_meta(meta_keys.ACTIVE_MODEL)
    if active is None:
        store.add_model(ModelRecord(embedder.key, embedder.name, embedder.version, embedder.precision, embedder.dim,
                                    embedder.preprocess.to_dict(), {}, time.strftime("%Y-%m-%dT%H:%M:%S")))
        store.set_meta({meta_keys.ACTIVE_MODEL: embedder.key})
    elif active != embedder.key:
        raise ModelMismatchError(f"catalogue's active model is {active}, but the embedder is {embedder.key}")


def active_record(store: CatalogStore) -> ModelRecord | None:
    key = store.get_meta(meta_keys.ACTIVE_MODEL)
    return store.get_model(key) if key else None


def resolve_version(store: CatalogStore, name: str) -> ModelRecord:
    """A model by full key or by version name (e.g. `ft-20261123-101500` or `imagenet`)."""
    records = store.list_models()
    exact = [m for m in records if m.key == name] or [m for m in records if m.version == name]
    if len(exact) == 1:
        return exact[0]
    known = ", ".join(m.version for m in records) or "none"
    if not exact:
        raise TrainingError(f"no model version {name!r} in this catalogue; known: {known}")
    raise TrainingError(f"{name!r} is ambiguous; use the full key: {', '.join(m.key for m in exact)}")


def embed_missing(store: CatalogStore, folder: Path, record: ModelRecord, *, allow_missing: bool = False,
                  progress: Callable[[int], None] | None = None) -> tuple[ActivationReport, Embedder]:
    """Embed every image the version has no embedding for yet (resumable: each batch is
    committed); returns the report so far and the version's embedder. The caller holds the
    catalogue's write lock."""
    started = time.perf_counter()
    report = ActivationReport(record.key)
    embedder = load_embedder(folder, record.name, record.precision, record=record)
    usable: list[ImageRecord] = []
    files: dict[int, Path] = {}
    media = MediaStore(folder)
    for im in store.images_missing_embedding(record.key):
        vector = store.vector_for_hash(im.sha256, record.key)
        file = media.file_of(im)
        if vector is not None:
            store.put_embeddings(record.key, [im.id], vector[None])
            report.reused += 1
        elif file is not None:
            usable.append(im)
            files[im.id] = file
        else:
            report.missing_sources.append(im.source or f"image {im.id}")
    ids: list[int] = []
    vectors: list[np.ndarray] = []
    for result in embed_sources(embedder, usable, source_of=lambda im: files[im.id], progress=progress):
        if result.vector is None:
            report.failed.append(f"{result.item.source}: {result.error}")
            continue
        ids.append(result.item.id)
        vectors.append(result.vector)
        report.embedded += 1
        if len(ids) >= WRITE_EVERY:
            store.put_embeddings(record.key, ids, np.stack(vectors))
            ids.clear()
            vectors.clear()
    if ids:
        store.put_embeddings(record.key, ids, np.stack(vectors))
    lacking = report.missing_sources + report.failed
    if lacking and not allow_missing:
        raise TrainingError(
            f"{len(lacking)} image(s) could not be embedded with {record.key} (first: {lacking[0]}); "
            "they would vanish from search. Restore the files, remove those images, or pass allow_missing"
        )
    report.seconds = time.perf_counter() - started
    return report, embedder
