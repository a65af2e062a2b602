"""Find duplicate images and duplicate products in a catalogue.

Image evidence: every image's nearest neighbours in the vector index (cosine of the catalogue's
image embeddings), plus identical bytes (same sha256) stored under two products, scored 1.0.
Product evidence for a pair (A, B): the best image cosine between any image of A and any of B,
blended with the cosine of their text embeddings when both have text of their own:
    product score = IMAGE_WEIGHT * image + (1 - IMAGE_WEIGHT) * text   (image alone otherwise)
Pairs at or above the thresholds are joined into clusters (union-find).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import ModelError, NothingEmbeddedError, StaleCalibrationError
from .port import DuplicateSource

log = logging.getLogger(__name__)

NEIGHBOURS = 10
IMAGE_WEIGHT = 0.7
DEFAULT_IMAGE_THRESHOLD = 0.95
DEFAULT_PRODUCT_THRESHOLD = 0.90
THRESHOLDS_RECORD = "duplicates"  # calibration record (per model version): thresholds of `duplicates --calibrate`


@dataclass
class DuplicateThresholds:
    """Duplicate thresholds with the precision and recall they had on labelled pairs."""

    image_threshold: float
    image_precision: float
    image_recall: float
    product_threshold: float
    product_precision: float
    product_recall: float
    pairs: int
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def stored_thresholds(catalog: DuplicateSource) -> DuplicateThresholds | None:
    """The active version's duplicate thresholds; None if no version was ever calibrated and the
    model is off-the-shelf (the defaults hold). Thresholds fitted on another version are cosines
    of another space: StaleCalibrationError says so rather than reading them."""
    model = catalog.active_model
    record = catalog.get_calibration(model.key, THRESHOLDS_RECORD) if model is not None else None
    if record is not None:
        return DuplicateThresholds(**{k: v for k, v in record.value.items() if k in DuplicateThresholds.__dataclass_fields__})
    others = [c.model_key for c in catalog.calibrations() if c.name == THRESHOLDS_RECORD]
    if others or (model is not None and model.info.get("onnx")):
        fitted = f"were fitted on {others[0]}" if others else "were never fitted for it"
        raise StaleCalibrationError(f"the duplicate thresholds {fitted}, not on the active model {model.key}; "
                                    "run: productlens duplicates --calibrate (or pass the thresholds)")
    return None


def store_thresholds(catalog: DuplicateSource, cal: DuplicateThresholds) -> None:
    """Store the thresholds for the active model version."""
    model = catalog.active_model
    if model is None:
        raise NothingEmbeddedError()
    catalog.save_calibration(model.key, THRESHOLDS_RECORD, asdict(cal), f"{cal.pairs} synthetic copies ({cal.source})")


@dataclass
class Cluster:
    """A group of images (kind 'image', members are image ids) or products (kind 'product')."""

    kind: str
    members: list[Any]
    score: float  # the weakest link that joined the cluster
    pairs: list[tuple[Any, Any, float]] = field(default_factory=list)
    products: list[str] = field(default_factory=list)  # owning products (image clusters)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["pairs"] = [{"a": a, "b": b, "score": round(s, 6)} for a, b, s in self.pairs]
        out["score"] = round(self.score, 6)
        return out


@dataclass
class DuplicateReport:
    image_threshold: float
    product_threshold: float
    image_clusters: list[Cluster]
    product_clusters: list[Cluster]
    calibration: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "image_threshold": self.image_threshold,
            "product_threshold": self.product_threshold,
            "calibration": self.calibration,
            "image_clusters": [c.to_dict() for c in self.image_clusters],
            "product_clusters": [c.to_dict() for c in self.product_clusters],
        }


def image_pair_scores(catalog: DuplicateSource, floor: float, neighbours: int = NEIGHBOURS) -> dict[tuple[int, int], float]:
    """{(image a, image b): cosine} for neighbour pairs scoring >= floor (a < b), plus byte-identical pairs."""
    model, live = catalog.active_model, catalog.live_index()
    pairs: dict[tuple[int, int], float] = {}
    if model is None or live is None or len(live) < 2:
        return pairs
    k = min(neighbours + 1, len(live))
    for ids, vectors in catalog.image_vectors(model.key, batch=1024):
        hits = live.search(vectors, k)
        for row, image_id in enumerate(ids.tolist()):
            for other, score in zip(hits.ids[row].tolist(), hits.scores[row].tolist()):
                if other < 0 or other == image_id or score < floor:
                    continue
                key = (min(image_id, other), max(image_id, other))
                pairs[key] = max(pairs.get(key, -1.0), float(score))
    for a, b in catalog.identical_image_pairs():
        pairs[(a, b)] = 1.0
    return pairs


def product_pair_scores(
    catalog: DuplicateSource, image_pairs: dict[tuple[int, int], float], text_vectors: dict[str, np.ndarray] | None
) -> dict[tuple[str, str], dict[str, float]]:
    """{(product a, product b): {'image', 'text'?, 'score'}} for products linked by an image pair."""
    owner = catalog.image_products([i for pair in image_pairs for i in pair])
    best: dict[tuple[str, str], float] = {}
    for (a, b), score in image_pairs.items():
        pa, pb = owner.get(a), owner.get(b)
        if pa is None or pb is None or pa == pb:
            continue
        key = (min(pa, pb), max(pa, pb))
        best[key] = max(best.get(key, -1.0), score)
    out: dict[tuple[str, str], dict[str, float]] = {}
    for (pa, pb), image in best.items():
        evidence = {"image": image}
        if text_vectors and pa in text_vectors and pb in text_vectors:
            evidence["text"] = float(text_vectors[pa] @ text_vectors[pb])
            evidence["score"] = IMAGE_WEIGHT * image + (1 - IMAGE_WEIGHT) * evidence["text"]
        else:
            evidence["score"] = image
        out[(pa, pb)] = evidence
    return out


def text_vectors_of(catalog: DuplicateSource) -> dict[str, np.ndarray] | None:
    """Text embeddings of products with text of their own; None when the text model is missing."""
    try:
        state = catalog.text_search().state()
    except (ModelError, ImportError) as exc:
        log.info("no text evidence for duplicates: %s", exc)
        return None
    return dict(zip(state.text_ids, state.text_matrix))


def clusters(pairs: dict[tuple[Any, Any], float], threshold: float, kind: str) -> list[Cluster]:
    """Connected components of the pairs scoring >= threshold, largest first."""
    parent: dict[Any, Any] = {}

    def find(x: Any) -> Any:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    kept = [(a, b, s) for (a, b), s in pairs.items() if s >= threshold]
    for a, b, _ in kept:
        parent[find(a)] = find(b)
    groups: dict[Any, Cluster] = {}
    for a, b, s in sorted(kept, key=lambda t: -t[2]):
        cluster = groups.setdefault(find(a), Cluster(kind, [], 1.0))
        cluster.pairs.append((a, b, s))
        cluster.score = min(cluster.score, s)
        for m in (a, b):
            if m not in cluster.members:
                cluster.members.append(m)
    return sorted(groups.values(), key=lambda c: (-len(c.members), -c.score))


def find_duplicates(
    catalog: DuplicateSource, *, image_threshold: float | None = None, product_threshold: float | None = None,
    use_text: bool = True,
) -> DuplicateReport:
    """Image clusters and product clusters at the given thresholds, or the calibrated ones
    stored in the catalogue (`productlens duplicates --calibrate`), or the defaults."""
    given = image_threshold is not None and product_threshold is not None
    cal = None if given else stored_thresholds(catalog)
    t_img = image_threshold if image_threshold is not None else (cal.image_threshold if cal else DEFAULT_IMAGE_THRESHOLD)
    t_prod = product_threshold if product_threshold is not None else (cal.product_threshold if cal else DEFAULT_PRODUCT_THRESHOLD)
    floor = min(t_img, t_prod - (1 - IMAGE_WEIGHT)) if use_text else min(t_img, t_prod)
    image_pairs = image_pair_scores(catalog, floor)
    product_evidence = product_pair_scores(catalog, image_pairs, text_vectors_of(catalog) if use_text else None)
    image_clusters = clusters(image_pairs, t_img, "image")
    owner = catalog.image_products([m for c in image_clusters for m in c.members])
    for c in image_clusters:
        c.products = sorted({owner[m] for m in c.members if m in owner})
    product_clusters = clusters({k: v["score"] for k, v in product_evidence.items()}, t_prod, "product")
    return DuplicateReport(t_img, t_prod, image_clusters, product_clusters, cal.to_dict() if cal else None)
