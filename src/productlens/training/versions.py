"""Model versions stored in the catalogue, and switching between them.

A trained version lives in `<catalog>/models/<version>/`:
    model.<precision>.onnx   backbone + head as ONE graph (search stays a single ORT session)
    head.npz                 product and category proxies (the classifier used by recognition)
    version.json             backbone, preprocessing, classes, categories, recipe settings,
                             metrics, recognition mode and calibration
    curves.png, history.json training curves
and is registered in the `models` table (info = {"onnx", "recipe", "metrics", "classifier"}).

`activate` embeds every image still missing an embedding for the version (resumable: each batch
is committed), builds that version's index, then switches `active_model` in one transaction;
until the switch, searches keep using the old version.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..catalog.store import ModelRecord
from ..errors import TrainingError

log = logging.getLogger(__name__)

WRITE_EVERY = 256


def save_version(catalog, fitted, data, config) -> str:
    """Export a fitted recipe as a new version; returns its model key (not activated)."""
    from ..models.export import export_onnx
    from ..models.registry import EmbedderSpec
    from .curves import save_curves

    version = "ft-" + time.strftime("%Y%m%d-%H%M%S")
    suffix = 1
    while (catalog.models_dir / version).exists():
        suffix += 1
        version = f"ft-{time.strftime('%Y%m%d-%H%M%S')}-{suffix}"
    folder = catalog.models_dir / version
    folder.mkdir(parents=True)
    dim = int(fitted.head.proxies.shape[1])
    preprocess = replace(fitted.preprocess, flip_tta=config.flip_tta)
    spec = EmbedderSpec(fitted.backbone, dim, preprocess, lambda: fitted.module, version)
    onnx = folder / "model.fp32.onnx"
    export_onnx(spec, onnx)
    if config.precision == "int8":
        onnx = _quantize(catalog, spec, onnx, data)
    np.savez(folder / "head.npz", proxies=fitted.head.proxies.detach().numpy(),
             coarse=fitted.head.coarse.detach().numpy())
    key = f"{fitted.backbone}/{version}/{config.precision}"
    meta = {
        "key": key, "backbone": fitted.backbone, "version": version, "precision": config.precision, "dim": dim,
        "preprocess": preprocess.to_dict(), "recipe": config.recipe, "config": asdict(config),
        "metrics": fitted.metrics, "classes": data.classes, "categories": data.categories,
        "recognition": fitted.recognition, "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    (folder / "version.json").write_text(json.dumps(meta, indent=2))
    save_curves(fitted.history, folder)
    rel = onnx.relative_to(catalog.path).as_posix()
    info = {"onnx": rel, "recipe": config.recipe, "metrics": fitted.metrics,
            "classifier": (folder / "head.npz").relative_to(catalog.path).as_posix()}
    catalog.store.add_model(ModelRecord(key, fitted.backbone, version, config.precision, dim,
                                        preprocess.to_dict(), info, meta["created_at"]))
    log.info("saved model version %s", key)
    return key


def _quantize(catalog, spec, fp32: Path, data) -> Path:
    from ..images import load_image
    from ..models.quantize import quantize_int8
    from ..models.transforms import prepare

    arrays = []
    for s in data.train[:: max(1, len(data.train) // 128)][:128]:
        try:
            arrays.append(prepare(load_image(s.source).image, spec.preprocess))
        except Exception:  # an unreadable calibration image is simply skipped
            continue
    return quantize_int8(fp32, fp32.with_name("model.int8.onnx"), arrays)


def resolve(catalog, name: str) -> ModelRecord:
    """A model by full key or by version name (e.g. `ft-20261123-101500` or `imagenet`)."""
    records = catalog.store.list_models()
    exact = [m for m in records if m.key == name] or [m for m in records if m.version == name]
    if len(exact) == 1:
        return exact[0]
    known = ", ".join(m.version for m in records) or "none"
    if not exact:
        raise TrainingError(f"no model version {name!r} in this catalogue; known: {known}")
    raise TrainingError(f"{name!r} is ambiguous; use the full key: {', '.join(m.key for m in exact)}")


def list_versions(catalog) -> list[dict[str, Any]]:
    active = catalog.store.get_meta("active_model")
    out = []
    for m in catalog.store.list_models():
        metrics = m.info.get("metrics", {})
        out.append({"key": m.key, "version": m.version, "recipe": m.info.get("recipe", "off-the-shelf"),
                    "precision": m.precision, "dim": m.dim, "created_at": m.created_at, "active": m.key == active,
                    "embedded_images": len(catalog.store.embedding_ids(m.key)),
                    "val_r1": metrics.get("val_r1"), "val_cls_acc": metrics.get("val_cls_acc")})
    return out


@dataclass
class ActivationReport:
    key: str
    embedded: int = 0
    reused: int = 0
    missing_sources: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    switched: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def activate(catalog, name: str, *, allow_missing: bool = False, progress: Callable[[int], None] | None = None) -> ActivationReport:
    """Embed what the version lacks, build its index, then make it the active model."""
    from ..catalog.live_index import LiveIndex
    from ..engine import DEFAULT_INDEX
    from ..pipeline import embed_sources

    started = time.perf_counter()
    record = resolve(catalog, name)
    report = ActivationReport(record.key)
    with catalog.writing():
        embedder = embedder_of(catalog, record)
        missing = catalog.store.images_missing_embedding(record.key)
        usable = []
        for im in missing:
            vector = catalog.store.vector_for_hash(im.sha256, record.key)
            if vector is not None:
                catalog.store.put_embeddings(record.key, [im.id], vector[None])
                report.reused += 1
            elif im.source and Path(im.source).exists():
                usable.append(im)
            else:
                report.missing_sources.append(im.source or f"image {im.id}")
        ids: list[int] = []
        vectors: list[np.ndarray] = []

        def flush() -> None:
            if ids:
                catalog.store.put_embeddings(record.key, ids, np.stack(vectors))
                ids.clear()
                vectors.clear()

        for result in embed_sources(embedder, usable, source_of=lambda im: im.source, progress=progress):
            if result.vector is None:
                report.failed.append(f"{result.item.source}: {result.error}")
                continue
            ids.append(result.item.id)
            vectors.append(result.vector)
            report.embedded += 1
            if len(ids) >= WRITE_EVERY:
                flush()
        flush()
        lacking = report.missing_sources + report.failed
        if lacking and not allow_missing:
            raise TrainingError(
                f"{len(lacking)} image(s) could not be embedded with {record.key} (first: {lacking[0]}); "
                "they would vanish from search. Restore the files, remove those images, or pass allow_missing"
            )
        kind = str(catalog.store.get_meta("index_kind", DEFAULT_INDEX))
        live = LiveIndex(catalog.store, catalog.path / "index", record.key, record.dim, kind)
        live.save()
        catalog.store.set_meta({"active_model": record.key})
        catalog._embedder, catalog._live = embedder, live
        report.switched = True
    report.seconds = time.perf_counter() - started
    return report


def embedder_of(catalog, record: ModelRecord):
    """The embedder of any model record of this catalogue (trained file or registered model)."""
    if record.info.get("onnx"):
        from ..models.trained import embedder_for_record

        return embedder_for_record(catalog.path, record)
    from ..models import create_embedder

    model_dir = catalog.models_dir if record.precision == "int8" else None
    return create_embedder(record.name, record.precision, model_dir=model_dir)
