"""Batch queries (`Catalog.search_many`): many photos with one model load, embedded in batches
(decoded in worker threads while the previous batch runs), each then searched like one photo."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..images import ImageSource
from ..pipeline import embed_sources
from ..results import ProductHit
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


def search_many(active: ActiveModel, searcher: Searcher, images: Sequence[ImageSource], *, k: int,
                where: Where, names: Sequence[str] | None = None) -> Iterator[BatchAnswer]:
    """One BatchAnswer per image, in order, named by `names` (default: the image paths); an
    image that cannot be used is an answer with an error, and the batch goes on."""
    embedder = active.embedder()
    labels = list(names) if names is not None else [str(image) for image in images]
    for n, result in enumerate(embed_sources(embedder, list(range(len(images))), source_of=images.__getitem__)):
        query = labels[n]
        if result.error is not None:
            yield BatchAnswer(query, error=str(result.error), reason=result.error.reason)
        else:
            yield BatchAnswer(query, searcher.vector(result.vector, k=k, where=where, model_key=embedder.key))
