"""Find duplicate images and duplicate products in a catalogue.

Image evidence: every image's nearest neighbours among the catalogue's images in an *instance*
space (the off-the-shelf model's embeddings, whatever version is active: a trained version pulls
a product's photos together on purpose, so its space would call distinct photos near-copies),
plus identical bytes (same sha256) stored under two products, scored 1.0.
Product evidence for a pair (A, B): the best image cosine between any image of A and any of B,
blended with the cosine of their text embeddings when both have text of their own:
    product score = IMAGE_WEIGHT * image + (1 - IMAGE_WEIGHT) * text   (image alone otherwise)
Image pairs at or above the image threshold are then checked pixel by pixel (alignment.py): only
a pair that lines up at some scale and shift is a copy, since two photos of a product taken a
moment apart can be as close in any embedding. Pairs at or above the thresholds are joined into
clusters (union-find).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import ModelError, StaleCalibrationError
from .alignment import ALIGNED, Aligner, decoded
from .port import DuplicateSource

log = logging.getLogger(__name__)

NEIGHBOURS = 10
IMAGE_WEIGHT = 0.7
DEFAULT_IMAGE_THRESHOLD = 0.95
DEFAULT_PRODUCT_THRESHOLD = 0.90
UNCHECKED = DEFAULT_IMAGE_THRESHOLD  # the cosine an image pair needs when its pixels cannot be compared
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


def stored_thresholds(catalog: DuplicateSource, key: str) -> DuplicateThresholds | None:
    """The duplicate thresholds of the instance model `key`; None if never fitted (the defaults
    hold). Thresholds fitted on another model are cosines of another space: StaleCalibrationError
    says so rather than reading them."""
    record = catalog.get_calibration(key, THRESHOLDS_RECORD)
    if record is not None:
        return DuplicateThresholds(**{k: v for k, v in record.value.items() if k in DuplicateThresholds.__dataclass_fields__})
    others = [c.model_key for c in catalog.calibrations() if c.name == THRESHOLDS_RECORD]
    if others:
        raise StaleCalibrationError(f"the duplicate thresholds were fitted on {others[0]}, not on {key}; "
                                    "run: productlens duplicates --calibrate (or pass the thresholds)")
    return None


def store_thresholds(catalog: DuplicateSource, cal: DuplicateThresholds, key: str) -> None:
    """Store the thresholds for the instance model `key` they were fitted in."""
    catalog.save_calibration(key, THRESHOLDS_RECORD, asdict(cal), f"{cal.pairs} synthetic copies ({cal.source})")


class Neighbours:
    """Exact inner-product neighbours among the catalogue's images in a NearCopySpace."""

    def __init__(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        import faiss  # the core index library; imported here to keep `import productlens` light

        self.ids = np.asarray(ids, np.int64)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.index = faiss.IndexFlatIP(self.vectors.shape[1]) if len(self.vectors) else None
        if self.index is not None:
            self.index.add(self.vectors)

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(image ids, cosines) of each query's k nearest images (-1 past the end), best first."""
        k = min(k, len(self.ids))
        scores, rows = self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return np.where(rows >= 0, self.ids[np.maximum(rows, 0)], -1), scores


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


def image_pair_scores(catalog: DuplicateSource, near: Neighbours, floor: float,
                      neighbours: int = NEIGHBOURS) -> dict[tuple[int, int], float]:
    """{(image a, image b): cosine} for neighbour pairs scoring >= floor (a < b), plus byte-identical pairs."""
    pairs: dict[tuple[int, int], float] = {}
    if len(near) < 2:
        return pairs
    for start in range(0, len(near), 1024):
        ids = near.ids[start:start + 1024]
        found, scores = near.search(near.vectors[start:start + 1024], neighbours + 1)
        for row, image_id in enumerate(ids.tolist()):
            for other, score in zip(found[row].tolist(), scores[row].tolist()):
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


def aligned_pairs(catalog: DuplicateSource, pairs: dict[tuple[int, int], float],
                  threshold: float) -> dict[tuple[int, int], float]:
    """The image pairs at or above `threshold` whose pixels line up (alignment.py). Byte-identical
    pairs (1.0) need no check; a pair with a file gone cannot be checked and needs a cosine of
    UNCHECKED (the cosine alone was never enough at the thresholds the check allows)."""
    candidates = {k: s for k, s in pairs.items() if s >= threshold}
    records = {r.id: r for r in catalog.images_by_id(sorted({i for k in candidates for i in k}))}
    aligner = Aligner(decoded(lambda i: catalog.image_bytes(records[i]) if i in records else None))

    def copy(a: int, b: int, cosine: float) -> bool:
        if cosine >= 1.0:
            return True
        score = aligner.score(a, b)
        return cosine >= max(threshold, UNCHECKED) if score is None else score >= ALIGNED

    return {(a, b): s for (a, b), s in candidates.items() if copy(a, b, s)}


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
    space = catalog.near_copy_space()
    cal = None if given else stored_thresholds(catalog, space.key)
    t_img = image_threshold if image_threshold is not None else (cal.image_threshold if cal else DEFAULT_IMAGE_THRESHOLD)
    t_prod = product_threshold if product_threshold is not None else (cal.product_threshold if cal else DEFAULT_PRODUCT_THRESHOLD)
    floor = min(t_img, t_prod - (1 - IMAGE_WEIGHT)) if use_text else min(t_img, t_prod)
    image_pairs = image_pair_scores(catalog, Neighbours(*space.vectors()), floor)
    product_evidence = product_pair_scores(catalog, image_pairs, text_vectors_of(catalog) if use_text else None)
    image_clusters = clusters(aligned_pairs(catalog, image_pairs, t_img), t_img, "image")
    owner = catalog.image_products([m for c in image_clusters for m in c.members])
    for c in image_clusters:
        c.products = sorted({owner[m] for m in c.members if m in owner})
    product_clusters = clusters({k: v["score"] for k, v in product_evidence.items()}, t_prod, "product")
    return DuplicateReport(t_img, t_prod, image_clusters, product_clusters, cal.to_dict() if cal else None)
