"""The model-version side of `Catalog`: listing versions and switching the active one, never to a
version that is not shown to be better (promotion.py) unless forced, and recalibrating what was
fitted on the old version's vectors (what cannot be refitted honestly is reported stale).

A mixin so that catalog.py stays a readable size; it uses the facade's store, lock and caches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..catalog.store import ModelRecord
from ..dedup import calibrate_on_copies, store_calibration
from ..dedup.finder import CALIBRATION as DEDUP
from ..errors import ActivationRefusedError, ProductLensError
from ..models import Embedder
from ..recognition import RECORD, Recognizer
from ..results import ActivationReport
from ..text.search import HYBRID
from . import models, promotion
from .instance import instance_record
from .recognize import recognizer_of


@dataclass
class ModelView:
    """A model version as evaluation sees it: every catalogue image embedded with it, its embedder,
    its recogniser and its trained head (None off-the-shelf). Looking does not activate it."""

    record: ModelRecord
    embedder: Embedder
    recognizer: Recognizer
    head: dict[str, Any] | None


class ModelMethods:
    """Model versions of a Catalog (see the module docstring)."""

    def model_view(self, version: str | None = None) -> ModelView:
        """The active version, or `version` without activating it (what it lacks is embedded and
        stored, as `activate_model` would, but searches keep using the active version)."""
        active = self.active_model
        record = models.resolve_version(self.store, version) if version else active
        if record is None:
            raise ProductLensError("nothing embedded yet: add images first")
        if active is not None and record.key == active.key:
            embedder = self.embedder()
        else:
            with self.writing():
                _, embedder = models.embed_missing(self.store, self.path, record)
        head = promotion.head_of(self.models_dir, record)
        return ModelView(record, embedder, recognizer_of(self.store, record, head), head)

    def model_versions(self) -> list[dict[str, Any]]:
        """Every model version of the catalogue, which one is active, and their validation metrics."""
        return models.list_versions(self.store)

    def activate_model(self, version: str, *, allow_missing: bool = False, force: bool = False,
                       progress: Callable[[int], None] | None = None) -> ActivationReport:
        """Make a model version active (roll forward or back) if it beats the active one on the same
        validation photos, or with `force`: embeds what it lacks, builds its index, switches in
        one write (until then searches use the current version), then recalibrates for it."""
        with self.writing():
            target, active = models.resolve_version(self.store, version), self.active_model
            if active is not None and active.key == target.key:
                return ActivationReport(target.key, switched=False, comparison={"verdict": "already active"})
            saved = promotion.recorded(self.models_dir, target, active) if active is not None else None
            if saved is not None and not saved.better and not force:
                raise _refusal(target, saved.to_dict())
            report, embedder = models.embed_missing(self.store, self.path, target, allow_missing=allow_missing,
                                                    progress=progress)
            if active is not None:
                embedders = {target.key: embedder, active.key: self.embedder()}
                comparison = saved or promotion.compare_versions(self.store, self.models_dir, target, active, embedders)
                report.comparison = comparison.to_dict()
                if not comparison.better and not force:
                    raise _refusal(target, report.comparison)
            live = models.switch(self.store, self.path, self.index_kind, target)
            self.adopt(embedder, live)
            report.switched = True
            report.recalibrated = self._recalibrate(active, target)
        return report

    def _recalibrate(self, previous: ModelRecord | None, target: ModelRecord) -> list[dict[str, Any]]:
        """After a switch: refit, for the new version, what was fitted on the old one and can be
        refitted cheaply and honestly; report each new value beside the old one, or as stale."""
        old = {c.name: c.value for c in self.calibrations(previous.key)} if previous is not None else {}
        new = {c.name: c.value for c in self.calibrations(target.key)}
        out: list[dict[str, Any]] = []
        if RECORD in new:
            out.append({"name": RECORD, "old": _threshold(old.get(RECORD)), "new": _threshold(new[RECORD]),
                        "note": "fitted on the validation photos the version was chosen on"})
        else:
            try:
                cal = self.calibrate()
                out.append({"name": RECORD, "old": _threshold(old.get(RECORD)), "new": round(cal.threshold, 4),
                            "note": f"refitted on {cal.source}"})
            except ProductLensError as exc:
                out.append({"name": RECORD, "stale": True, "note": f"{exc}; run: productlens calibrate --photos ..."})
        near = instance_record(self.store)
        if DEDUP in old and near is not None and self.store.get_calibration(near.key, DEDUP) is not None:
            out.append({"name": DEDUP, "note": f"kept: duplicates are found with {near.key}'s vectors, "
                                               "whatever version is active"})
        elif DEDUP in old and DEDUP not in new:
            try:
                cal, key = calibrate_on_copies(self, seed=0)
                store_calibration(self, cal, key)
                out.append({"name": DEDUP, "old": _dedup(old[DEDUP]), "new": _dedup(cal.to_dict()),
                            "note": f"refitted on {cal.pairs} synthetic copies"})
            except ProductLensError as exc:
                out.append({"name": DEDUP, "stale": True, "note": f"{exc}; run: productlens duplicates --calibrate"})
        if HYBRID in old and HYBRID not in new:
            out.append({"name": HYBRID, "stale": True, "old": old[HYBRID].get("beta"),
                        "note": "needs labelled photo + text queries: photo + text searches rank by reciprocal-rank "
                                "fusion on this version until it is fitted again"})
        out.append({"name": "text-bridge", "note": "fitted again from this version's image vectors at the next text search"})
        return out


def _refusal(target: ModelRecord, comparison: dict[str, Any]) -> ActivationRefusedError:
    before, after = comparison.get("before") or {}, comparison.get("after") or {}
    figures = f" (validation score {after.get('score', 0):.3f} vs {before.get('score', 0):.3f} now)" if before else ""
    why = {"not better": f"it is not better than the active model on the same validation photos{figures}",
           "saturated": f"the validation photos cannot tell the two apart{figures}",
           "unvalidated": "no validation photos show that it is better"}.get(comparison.get("verdict"), "not shown better")
    return ActivationRefusedError(f"{target.version} was not activated: {why}; pass --force to activate it anyway",
                                  comparison)


def _threshold(value: dict[str, Any] | None) -> float | None:
    cal = (value or {}).get("calibration") or {}
    return round(cal["threshold"], 4) if "threshold" in cal and "weights" in cal else None


def _dedup(value: dict[str, Any]) -> dict[str, float]:
    return {"image": value.get("image_threshold"), "product": value.get("product_threshold")}
