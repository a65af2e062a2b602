"""After a model switch: refit, for the new version, what was fitted on the old one's vectors and
can be refitted cheaply and honestly; report each new value beside the old one, or as stale."""

from __future__ import annotations

from typing import Any

from ..catalog.store import CatalogStore, ModelRecord
from ..dedup.finder import THRESHOLDS_RECORD as DEDUP
from ..errors import ProductLensError
from ..recognition import RECORD
from ..text.search import HYBRID
from .duplicates import Duplicates
from .recognition_service import RecognitionService


class Refit:
    """What `ModelVersions.activate` calls once it has switched (see the module docstring)."""

    def __init__(self, store: CatalogStore, recognition: RecognitionService, duplicates: Duplicates) -> None:
        self.store, self.recognition, self.duplicates = store, recognition, duplicates

    def __call__(self, previous: ModelRecord | None, target: ModelRecord) -> list[dict[str, Any]]:
        old = {c.name: c.value for c in self.store.calibrations(previous.key)} if previous is not None else {}
        new = {c.name: c.value for c in self.store.calibrations(target.key)}
        out: list[dict[str, Any]] = []
        if RECORD in new:
            out.append({"name": RECORD, "old": _threshold(old.get(RECORD)), "new": _threshold(new[RECORD]),
                        "note": "fitted on the validation photos the version was chosen on"})
        else:
            try:
                cal = self.recognition.calibrate()
                out.append({"name": RECORD, "old": _threshold(old.get(RECORD)), "new": round(cal.threshold, 4),
                            "note": f"refitted on {cal.source}"})
            except ProductLensError as exc:
                out.append({"name": RECORD, "stale": True, "note": f"{exc}; run: productlens calibrate --photos ..."})
        if DEDUP in old and DEDUP not in new:
            try:
                fitted = self.duplicates.fit_thresholds(seed=0)
                out.append({"name": DEDUP, "old": _dedup(old[DEDUP]), "new": _dedup(fitted.to_dict()),
                            "note": f"refitted on {fitted.pairs} synthetic copies"})
            except ProductLensError as exc:
                out.append({"name": DEDUP, "stale": True, "note": f"{exc}; run: productlens duplicates --calibrate"})
        if HYBRID in old and HYBRID not in new:
            out.append({"name": HYBRID, "stale": True, "old": old[HYBRID].get("beta"),
                        "note": "needs labelled photo + text queries: photo + text searches rank by reciprocal-rank "
                                "fusion on this version until it is fitted again"})
        out.append({"name": "text-bridge", "note": "fitted again from this version's image vectors at the next text search"})
        return out


def _threshold(value: dict[str, Any] | None) -> float | None:
    cal = (value or {}).get("calibration") or {}
    return round(cal["threshold"], 4) if "threshold" in cal and "weights" in cal else None


def _dedup(value: dict[str, Any]) -> dict[str, float]:
    return {"image": value.get("image_threshold"), "product": value.get("product_threshold")}
