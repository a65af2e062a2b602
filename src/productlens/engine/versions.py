"""Model versions of a catalogue: where a version's files live, listing them, whether one may
replace the active one, and switching to it. The one module that knows the version folder layout.

A trained version lives in `<catalog>/models/<version>/`:
    model.<precision>.onnx   backbone + head as ONE graph (search stays a single ORT session)
    head.npz                 product and category proxies (the classifier used by recognition)
    version.json             backbone, preprocessing, classes, categories, recipe settings,
                             metrics, recognition mode and calibration
    curves.png, history.json training curves
and is registered in the `models` table (info = {"onnx", "recipe", "metrics", "classifier"}).
Training hands a fitted version over (training/versions.py: `TrainedVersion`); `save` writes it.

Activation never switches to a version that is not shown to be better, unless forced. The
comparison `train` recorded against the model that is still active is used as it is. Otherwise
the two are compared now, both as they are, on the photos that validated the newer of them
(held-out catalogue photos, or labelled photos from outside the catalogue): each photo is searched
against the rest of the catalogue and recognised, with each model's own embeddings and recogniser
(training/compare.py). `model_answers` is that measurement, and `train` uses it too (through its
port) for the active model's side of its own comparison.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import meta_keys
from ..catalog.store import CatalogStore, ModelRecord
from ..errors import ActivationRefusedError, NothingEmbeddedError
from ..models import Embedder
from ..pipeline import embed_sources
from ..recognition import RECORD, Recognizer
from ..results import ActivationReport
from ..training.classify import load_head
from ..training.compare import Comparison, FoldAnswers, compare, fold_answers, side
from ..training.curves import draw_curves
from ..training.port import Photo, TrainedVersion
from . import models
from .active import ActiveModel
from ..index.live import LiveIndex
from .lifecycle import DEFAULT_INDEX, IndexSaves, WriteLock
from .recognize import recognizer_of

MODELS_DIR = "models"  # the catalogue's model files: INT8 networks calibrated on it, and one folder per version


@dataclass(frozen=True)
class VersionFolder:
    """The files of one trained version (see the module docstring)."""

    path: Path

    def onnx(self, precision: str) -> Path:
        return self.path / f"model.{precision}.onnx"

    @property
    def head(self) -> Path:
        return self.path / "head.npz"

    @property
    def meta(self) -> Path:
        return self.path / "version.json"

    @property
    def curves(self) -> Path:
        return self.path / "curves.png"

    @property
    def history(self) -> Path:
        return self.path / "history.json"


@dataclass
class HeldOutPhoto:
    """A photo a version's validation held out, as its version.json lists it."""

    product_id: str
    source: str
    image_id: int | None


@dataclass
class ModelView:
    """A model version as evaluation sees it: every catalogue image embedded with it, its embedder,
    its recogniser and its trained head (None off-the-shelf). Looking does not activate it."""

    record: ModelRecord
    embedder: Embedder
    recognizer: Recognizer
    head: dict[str, Any] | None


Refit = Callable[[ModelRecord | None, ModelRecord], list[dict[str, Any]]]  # after a switch: what was refitted


class ModelVersions:
    """The catalogue's model versions: listing, looking at one, saving a trained one, activating one."""

    def __init__(self, path: Path, store: CatalogStore, lock: WriteLock, active: ActiveModel, saves: IndexSaves,
                 refit: Refit) -> None:
        self.path, self.store, self.lock, self.loader = path, store, lock, active
        self.saves, self.refit = saves, refit

    @property
    def models_dir(self) -> Path:
        return self.path / MODELS_DIR

    @property
    def active(self) -> ModelRecord | None:
        """The version searches use (None while nothing was embedded)."""
        return self.loader.record()

    @property
    def model_name(self) -> str:
        """The network the catalogue was created with."""
        return str(self.store.get_meta(meta_keys.MODEL_NAME))

    @property
    def precision(self) -> str:
        return str(self.store.get_meta(meta_keys.MODEL_PRECISION, "fp32"))

    def folder(self, record: ModelRecord) -> VersionFolder:
        return VersionFolder(self.models_dir / record.version)

    def head(self, record: ModelRecord | None) -> dict[str, Any] | None:
        """A trained version's classifier head and version.json (None off-the-shelf)."""
        return version_head(self.models_dir, record)

    def version_meta(self, record: ModelRecord) -> Mapping[str, Any]:
        """A trained version's version.json (empty for an off-the-shelf model)."""
        path = self.folder(record).meta
        return json.loads(path.read_text()) if record.info.get("onnx") and path.exists() else {}

    def training_history(self, record: ModelRecord | None) -> list[dict[str, float]]:
        """The epochs of a trained version's training (empty off-the-shelf or when unreadable)."""
        path = self.folder(record).history if record is not None and record.info.get("onnx") else None
        try:
            history = json.loads(path.read_text()) if path is not None else []
        except (OSError, ValueError):
            return []
        return history if isinstance(history, list) else []

    def recognizer(self, record: ModelRecord | None) -> tuple[Recognizer, dict[str, Any] | None]:
        """A version's recogniser and its trained head (None off-the-shelf)."""
        head = self.head(record)
        return recognizer_of(self.store, record, head), head

    def describe(self) -> list[dict[str, Any]]:
        """Every model version of the catalogue, which one is active, and their validation metrics."""
        active = self.store.get_meta(meta_keys.ACTIVE_MODEL)
        out = []
        for m in self.store.list_models():
            metrics = m.info.get("metrics", {})
            out.append({"key": m.key, "version": m.version, "recipe": m.info.get("recipe", "off-the-shelf"),
                        "precision": m.precision, "dim": m.dim, "created_at": m.created_at, "active": m.key == active,
                        "embedded_images": len(self.store.embedding_ids(m.key)),
                        "val_r1": metrics.get("val_r1"), "val_cls_acc": metrics.get("val_cls_acc")})
        return out

    def resolve(self, name: str) -> ModelRecord:
        """A model by full key or by version name (e.g. `ft-20261123-101500` or `imagenet`)."""
        return models.resolve_version(self.store, name)

    def view(self, version: str | None = None) -> ModelView:
        """The active version, or `version` without activating it (what it lacks is embedded and
        stored, as `activate` would, but searches keep using the active version)."""
        active = self.active
        record = self.resolve(version) if version else active
        if record is None:
            raise NothingEmbeddedError()
        if active is not None and record.key == active.key:
            embedder = self.loader.embedder()
        else:
            with self.lock.hold():
                _, embedder = models.embed_missing(self.store, self.path, record)
        recognizer, head = self.recognizer(record)
        return ModelView(record, embedder, recognizer, head)

    def save(self, trained: TrainedVersion) -> str:
        """Write a trained version's files into a new version folder and register it (not
        activated), with its recogniser as its recognition calibration; returns its model key."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        version, suffix = f"ft-{stamp}", 1
        while (self.models_dir / version).exists():
            suffix += 1
            version = f"ft-{stamp}-{suffix}"
        folder = VersionFolder(self.models_dir / version)
        folder.path.mkdir(parents=True)
        try:  # a failed save (a full disk) leaves no half-written version folder behind
            for precision, file in trained.networks.items():
                shutil.move(str(file), folder.onnx(precision))
            np.savez(folder.head, proxies=trained.proxies, coarse=trained.coarse)
            key = f"{trained.backbone}/{version}/{trained.precision}"
            created = time.strftime("%Y-%m-%dT%H:%M:%S")
            folder.meta.write_text(json.dumps({"key": key, "version": version, "created_at": created, **trained.meta},
                                              indent=2))
            folder.history.write_text(json.dumps(trained.history, indent=1))
            draw_curves(trained.history, folder.curves)
            info = {"onnx": folder.onnx(trained.precision).relative_to(self.path).as_posix(), "recipe": trained.recipe,
                    "metrics": trained.metrics, "classifier": folder.head.relative_to(self.path).as_posix()}
            # the calibration first, the model row last: a failed write leaves no version without its files
            self.store.put_calibration(key, RECORD, trained.recognition, trained.validated_on)
            self.store.add_model(ModelRecord(key, trained.backbone, version, trained.precision, trained.dim,
                                             trained.preprocess.to_dict(), info, created))
        except BaseException:
            shutil.rmtree(folder.path, ignore_errors=True)
            raise
        return key

    def activate(self, version: str, *, allow_missing: bool = False, force: bool = False,
                 progress: Callable[[int], None] | None = None) -> ActivationReport:
        """Make a model version active (roll forward or back) if it beats the active one on the same
        validation photos, or with `force`: embeds what it lacks, builds its index, switches in
        one write (until then searches use the current version), then refits for it what was
        fitted on the old version's vectors."""
        with self.lock.hold():
            target, active = self.resolve(version), self.active
            if active is not None and active.key == target.key:
                return ActivationReport(target.key, switched=False, comparison={"verdict": "already active"})
            saved = self.recorded(target, active) if active is not None else None
            if saved is not None and not saved.better and not force:
                raise refusal(target, saved.to_dict())
            report, embedder = models.embed_missing(self.store, self.path, target, allow_missing=allow_missing,
                                                    progress=progress)
            if active is not None:
                embedders = {target.key: embedder, active.key: self.loader.embedder()}
                comparison = saved or self.compare(target, active, embedders)
                report.comparison = comparison.to_dict()
                if not comparison.better and not force:
                    raise refusal(target, report.comparison)
            live = self.switch(target)
            self.loader.install(embedder, live)
            report.switched = True
            report.recalibrated = self.refit(active, target)
        return report

    def switch(self, target: ModelRecord) -> LiveIndex:
        """Build the version's index from its stored embeddings, then make it the active model in
        one meta write; until then searches keep using the old version."""
        kind = str(self.store.get_meta(meta_keys.INDEX_KIND, DEFAULT_INDEX))
        live = LiveIndex(self.store, self.path / "index", target.key, target.dim, kind)
        self.saves.now(live)
        self.store.set_meta({meta_keys.ACTIVE_MODEL: target.key})
        return live

    def recorded(self, target: ModelRecord, active: ModelRecord) -> Comparison | None:
        """The comparison the target's training run made against the model that is still active."""
        saved = self.version_meta(target).get("comparison")
        return Comparison.from_dict(saved) if saved and saved.get("against") == active.key else None

    def held_out_photos(self, target: ModelRecord, active: ModelRecord) -> list[HeldOutPhoto]:
        """The validation photos of the newer of the two versions that held photos out."""
        metas = sorted((self.version_meta(r) for r in (target, active)), key=lambda m: m.get("created_at", ""),
                       reverse=True)
        for found in metas:
            validation = found.get("validation") or {}
            if validation.get("kind") in ("groups", "photos") and validation.get("photos"):
                return [HeldOutPhoto(p.get("product", ""), p.get("source", ""), p.get("image"))
                        for p in validation["photos"]]
        return []

    def compare(self, target: ModelRecord, active: ModelRecord, embedders: Mapping[str, Embedder]) -> Comparison:
        """The comparison that decides activation (see the module docstring)."""
        saved = self.recorded(target, active)
        if saved is not None:
            return saved
        photos = self.held_out_photos(target, active)
        held = {int(p.image_id) for p in photos if p.image_id is not None}
        images = self.store.get_images()
        owner = {im.id: im.product_id for im in images}
        val = [HeldOutPhoto(owner[p.image_id], "", p.image_id) if p.image_id is not None else p
               for p in photos if p.image_id is None or p.image_id in owner]
        gallery = [HeldOutPhoto(im.product_id, "", im.id) for im in images if im.id not in held]
        products = sorted(set(owner.values()))
        sides = []
        for record in (active, target):
            recognizer, head = self.recognizer(record)
            answered = model_answers(self.store, record.key, embedders[record.key], products, val, gallery, head,
                                     recognizer.scale)
            if answered is None:
                return compare(active.key, None, None, 0)
            answers, kept = answered
            sides.append((side([answers], recognizer, len(products)), int(kept.sum())))
        (before, n), (after, _) = sides
        return compare(active.key, before, after, n)


def version_head(models_dir: Path, record: ModelRecord | None) -> dict[str, Any] | None:
    """A trained version's classifier head, with its version.json as "meta" (None off-the-shelf)."""
    if record is None or not record.info.get("classifier"):
        return None
    folder = VersionFolder(models_dir / record.version)
    return load_head(folder.head, folder.meta)


def model_answers(store: CatalogStore, model_key: str, embedder: Embedder, products: Sequence[str],
                  val: Sequence[Photo], gallery: Sequence[Photo], head: Mapping[str, Any] | None,
                  scale: float) -> tuple[FoldAnswers, np.ndarray] | None:
    """One model's answers on validation photos searched against a gallery: embeddings stored for
    catalogue photos, computed for photos from outside it; and which validation photos it could
    embed (None when none, or no gallery photo, has an embedding)."""
    val_vectors = _vectors(store, model_key, embedder, val)
    gallery_vectors = _vectors(store, model_key, embedder, gallery)
    kept = np.array([v is not None for v in val_vectors], dtype=bool)
    known = [(p, g) for p, g in zip(gallery, gallery_vectors) if g is not None]
    if not kept.any() or not known:
        return None
    answers = fold_answers(products, np.stack([v for v in val_vectors if v is not None]),
                           [p.product_id for p, v in zip(val, val_vectors) if v is not None],
                           np.stack([g for _, g in known]), [p.product_id for p, _ in known], head, scale)
    return answers, kept


def _vectors(store: CatalogStore, model_key: str, embedder: Embedder, photos: Sequence[Photo]) -> list[np.ndarray | None]:
    """The model's embedding of each photo (None where it has none)."""
    ids = [p.image_id for p in photos if p.image_id is not None]
    found, vectors = store.embeddings(model_key, ids) if ids else (np.zeros(0, np.int64), None)
    stored = dict(zip(found.tolist(), vectors)) if vectors is not None else {}
    outside = [p for p in photos if p.image_id is None]
    embedded = {id(r.item): r.vector for r in embed_sources(embedder, outside, source_of=lambda p: p.source)} \
        if outside else {}
    return [stored.get(p.image_id) if p.image_id is not None else embedded.get(id(p)) for p in photos]


def refusal(target: ModelRecord, comparison: dict[str, Any]) -> ActivationRefusedError:
    before, after = comparison.get("before") or {}, comparison.get("after") or {}
    figures = f" (validation score {after.get('score', 0):.3f} vs {before.get('score', 0):.3f} now)" if before else ""
    why = {"not better": f"it is not better than the active model on the same validation photos{figures}",
           "saturated": f"the validation photos cannot tell the two apart{figures}",
           "unvalidated": "no validation photos show that it is better"}.get(comparison.get("verdict"), "not shown better")
    return ActivationRefusedError(f"{target.version} was not activated: {why}; pass --force to activate it anyway",
                                  comparison)
