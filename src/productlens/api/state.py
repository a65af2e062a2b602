"""What the server holds for its whole life: the catalogue, its model's micro-batcher, metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from fastapi import Request, UploadFile

from ..engine import Catalog
from ..ranking import Box, parse_box
from ..results import ProductHit
from .batcher import EmbedBatcher
from .errors import ApiError
from .metrics import Metrics


@dataclass
class ServerState:
    catalog: Catalog
    batcher: EmbedBatcher
    metrics: Metrics
    max_upload_bytes: int
    max_pixels: int

    def read_upload(self, upload: UploadFile) -> bytes:
        """The uploaded bytes, refused over the cap (the body limit caps the request as a whole)."""
        data = upload.file.read(self.max_upload_bytes + 1)
        if len(data) > self.max_upload_bytes:
            raise ApiError(413, "too-large", f"upload is over the {self.max_upload_bytes:,}-byte cap")
        if not data:
            raise ApiError(422, "empty-file", "the uploaded file is empty")
        return data

    def query_vector(self, data: bytes, box: Box | None) -> tuple[np.ndarray, str]:
        """Upload -> (cropped) picture -> (embedding, its model's key): the engine's query path,
        with the model run through the shared micro-batcher and the server's pixel cap. Should
        another process have switched the catalogue's model version, the catalogue's own (new)
        embedder runs instead of the batcher's; the key lets the search refuse a vector of a
        model that is no longer active (ModelChangedError, a retryable 503)."""
        embedder = self.catalog.embedder()
        embed = self.batcher.embed if embedder is self.batcher.embedder else None
        return self.catalog.searcher.embed_query(data, box, max_pixels=self.max_pixels, embed=embed, embedder=embedder), embedder.key


def get_state(request: Request) -> ServerState:
    return request.app.state.server


def parse_query_box(text: str | None) -> Box | None:
    """'x0,y0,x1,y1' (pixels, or fractions in [0,1]) -> Box; empty -> None."""
    if text is None or not text.strip():
        return None
    box = parse_box(text)
    if not all(math.isfinite(v) and abs(v) < 1e9 for v in box):
        raise ApiError(400, "bad-box", f"box {text!r}: coordinates must be finite numbers")
    return box


def thumb_url(image_id: int, size: int = 256) -> str:
    return f"/images/{image_id}/thumb?size={size}"


def hit_dict(hit: ProductHit) -> dict:
    return {**hit.to_dict(), "thumb_url": thumb_url(hit.image_id)}


def facets_of(hits: list[ProductHit]) -> dict[str, dict[str, int]]:
    """Counts per category (and per brand, when products have one) among the results."""
    out: dict[str, dict[str, int]] = {}
    for hit in hits:
        values = {"category": hit.product.category, "brand": hit.product.attributes.get("brand")}
        for name, value in values.items():
            if isinstance(value, str) and value:
                bucket = out.setdefault(name, {})
                bucket[value] = bucket.get(value, 0) + 1
    return out
