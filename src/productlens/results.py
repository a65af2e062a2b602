"""What the engine hands back: plain data, no behaviour beyond describing itself as a dict.

The CLI prints these, the REST API serialises them, and the Python API returns them as they are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from .catalog.store import Product


class ProgressSink(Protocol):
    """What long operations report to; the CLI renders it, the library never prints."""

    def start(self, total: int | None, description: str) -> None: ...

    def advance(self, n: int = 1) -> None: ...


@dataclass
class ProductHit:
    """A product in a result list, scored by its best-matching image."""

    product: Product
    score: float
    image_id: int
    rank: int

    def to_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "score": round(self.score, 6), "image_id": self.image_id, **self.product.to_dict()}


@dataclass
class Recognition:
    """Which product a photo shows, or None for "not in the catalogue"."""

    product: Product | None
    score: float
    confidence: float
    threshold: float
    category: str | None
    category_confidence: float
    candidates: list[ProductHit]
    calibration: str = ""  # what the confidence model was fitted on (or that it is the default)

    @property
    def known(self) -> bool:
        return self.product is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "product": self.product.to_dict() if self.product else None,
            "known": self.known,
            "score": round(self.score, 6),
            "confidence": round(self.confidence, 6),
            "threshold": round(self.threshold, 6),
            "category": self.category,
            "category_confidence": round(self.category_confidence, 6),
            "candidates": [c.to_dict() for c in self.candidates],
            "calibration": self.calibration,
        }


@dataclass
class Skipped:
    """An input an add could not use, with a short machine-readable reason and a message."""

    source: str
    reason: str
    message: str


@dataclass
class IngestReport:
    """What an add did: counts, and every skipped input with its reason."""

    added: int = 0
    duplicates: int = 0
    reused_embeddings: int = 0
    products_created: int = 0
    products_updated: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ActivationReport:
    """What switching the active model version did (`Catalog.versions.activate`)."""

    key: str
    embedded: int = 0
    reused: int = 0
    missing_sources: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    switched: bool = False
    seconds: float = 0.0
    comparison: dict[str, Any] | None = None  # the new version against the old on validation photos
    recalibrated: list[dict[str, Any]] = field(default_factory=list)  # values refitted (or stale) for it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
