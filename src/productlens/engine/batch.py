"""Batch queries (`Catalog.search_many`, `Catalog.recognition.recognize_many`): many photos with one model load, embedded in batches
(decoded in worker threads while the previous batch runs), each then searched like one photo."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..images import ImageSource
from ..models.embedder import Embedder
from ..pipeline import embed_sources
from ..results import ProductHit, Recognition
from .active import ActiveModel
from .search import Searcher, Where


@dataclass
class BatchAnswer:
    """One query photo's results, or why it could not be searched (`error`, with its `reason`)."""

    query: str
    hits: list[ProductHit] = field(default_factory=list)
    error: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.error is not None:
            return {"query": self.query, "error": self.error, "reason": self.reason}
        return {"query": self.query, "results": [h.to_dict() for h in self.hits]}


@dataclass
class Embedded:
    """One query photo of a batch: its embedding, or why it could not be embedded."""

    query: str
    vector: np.ndarray | None = None
    error: str | None = None
    reason: str | None = None


def embed_many(embedder: Embedder, images: Sequence[ImageSource],
               names: Sequence[str] | None = None) -> Iterator[Embedded]:
    """Each image embedded, in order, in batches with one model (named by `names`, default the
    image paths); an image that cannot be used carries its error, and the batch goes on."""
    labels = list(names) if names is not None else [str(image) for image in images]
    for n, result in enumerate(embed_sources(embedder, list(range(len(images))), source_of=images.__getitem__)):
        if result.error is not None:
            yield Embedded(labels[n], error=str(result.error), reason=result.error.reason)
        else:
            yield Embedded(labels[n], result.vector)


def search_many(active: ActiveModel, searcher: Searcher, images: Sequence[ImageSource], *, k: int,
                where: Where, names: Sequence[str] | None = None) -> Iterator[BatchAnswer]:
    """One BatchAnswer per image, in order, named by `names` (default: the image paths); an
    image that cannot be used is an answer with an error, and the batch goes on."""
    embedder = active.embedder()
    for item in embed_many(embedder, images, names):
        if item.vector is None:
            yield BatchAnswer(item.query, error=item.error, reason=item.reason)
        else:
            yield BatchAnswer(item.query, searcher.vector(item.vector, k=k, where=where, model_key=embedder.key))


@dataclass
class BatchVerdict:
    """One query photo's recognition, or why it could not be recognised (`error`, with its `reason`)."""

    query: str
    result: Recognition | None = None
    error: str | None = None
    reason: str | None = None
