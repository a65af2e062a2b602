"""POST /detect (boxes alone) and the `objects=true` answer of POST /search: every product in a
multi-product photo, each with its own ranked results and recognition."""

from __future__ import annotations

import time
from typing import Optional

from fastapi import APIRouter, Depends, File, Form, UploadFile

from ..results import ObjectResult
from .auth import Guard
from .schemas import DetectResponse, ErrorBody
from .state import ServerState, get_state, hit_dict, parse_query_box

ERRORS = {400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 413: {"model": ErrorBody}, 422: {"model": ErrorBody}}


def object_dict(obj: ObjectResult) -> dict:
    """One object as /search?objects=true answers it: box, score, results, recognition (thumbnails linked)."""
    body = obj.to_dict()
    body["results"] = [hit_dict(h) for h in obj.hits]
    body["recognition"]["candidates"] = [hit_dict(c) for c in obj.recognition.candidates]
    return body


def search_objects(state: ServerState, data: bytes, *, k: int, where: str | None, box: str | None,
                   max_objects: int, started: float) -> dict:
    """The /search answer with objects=true."""
    found = state.catalog.search_objects(data, k=k, where=where, box=parse_query_box(box), max_objects=max_objects)
    return {"objects": [object_dict(o) for o in found], "took_ms": round((time.perf_counter() - started) * 1000, 2)}


def build_router(require_read: Guard) -> APIRouter:
    router = APIRouter(tags=["search"], dependencies=[Depends(require_read)], responses=ERRORS)

    @router.post("/detect", response_model=DetectResponse)
    def detect(
        image: UploadFile = File(..., description="The photo to find products in."),
        box: Optional[str] = Form(None, max_length=200, description="Look only inside x0,y0,x1,y1 (pixels or fractions)."),
        max_objects: int = Form(20, ge=1, le=100, description="Boxes to return at most."),
        min_score: float = Form(0.3, ge=0, le=1, description="Leave out boxes whose calibrated score is lower."),
        state: ServerState = Depends(get_state),
    ) -> dict:
        """The products in a photo: boxes (x0, y0, x1, y1) in its pixels, after EXIF orientation, best first."""
        started = time.perf_counter()
        found = state.catalog.detect(state.read_upload(image), box=parse_query_box(box), max_objects=max_objects,
                                     min_score=min_score)
        return {"objects": [d.to_dict() for d in found], "took_ms": round((time.perf_counter() - started) * 1000, 2)}

    return router
