"""POST /search and POST /recognize: a photo in, products out."""

from __future__ import annotations

import time
from typing import Optional

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import HTMLResponse

from .auth import Guard
from .errors import ApiError
from .schemas import ErrorBody, RecognizeResponse, SearchResponse
from .state import ServerState, facets_of, get_state, hit_dict, parse_query_box

ERRORS = {400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 413: {"model": ErrorBody}, 422: {"model": ErrorBody}}


def build_router(require_read: Guard) -> APIRouter:
    router = APIRouter(tags=["search"], dependencies=[Depends(require_read)], responses=ERRORS)

    @router.post("/search", response_model=SearchResponse)
    def search(
        image: Optional[UploadFile] = File(None, description="The query photo (any format Pillow decodes)."),
        text: Optional[str] = Form(None, max_length=500, description="Words to search for, alone or with the photo."),
        k: int = Form(10, ge=1, le=100, description="Products to return."),
        box: Optional[str] = Form(None, max_length=200, description="Crop first: x0,y0,x1,y1 in pixels, or fractions in [0,1]."),
        where: Optional[str] = Form(None, max_length=2000, description="Filter, e.g. category = 'Milk'."),
        state: ServerState = Depends(get_state),
    ) -> dict:
        """Products that look most like the photo (and/or match the text), best first, with facet counts."""
        started = time.perf_counter()
        text = text if text and text.strip() else None
        if image is None and text is None:
            raise ApiError(422, "invalid-request", "send an image, a text, or both")
        if image is None:
            hits = state.catalog.search_text(text, k=k, where=where)
        else:
            vector, model_key = state.query_vector(state.read_upload(image), parse_query_box(box))
            if text is None:  # the common case
                hits = state.catalog.searcher.vector(vector, k=k, where=where, model_key=model_key)
            else:  # photo and text rankings fused by the engine
                hits = state.catalog.searcher.hybrid(vector, text, k=k, where=where, model_key=model_key)
        return {"results": [hit_dict(h) for h in hits], "facets": facets_of(hits),
                "took_ms": round((time.perf_counter() - started) * 1000, 2)}

    @router.get("/duplicates")
    def duplicates(
        image_threshold: Optional[float] = Query(None, ge=-1, le=1, description="Override the image threshold."),
        product_threshold: Optional[float] = Query(None, ge=-1, le=1, description="Override the product threshold."),
        use_text: bool = Query(True, description="Also use text evidence for products."),
        state: ServerState = Depends(get_state),
    ) -> dict:
        """Clusters of near-identical images and of probably-identical products (as `productlens duplicates --json`)."""
        return state.catalog.duplicates(image_threshold=image_threshold, product_threshold=product_threshold,
                                        use_text=use_text).to_dict()

    @router.get("/duplicates/review", response_class=HTMLResponse)
    def duplicates_review(state: ServerState = Depends(get_state)) -> HTMLResponse:
        """The duplicate clusters as a self-contained review page, images side by side (the web page links here)."""
        return HTMLResponse(state.catalog.dedup.review_page(state.catalog.duplicates()))

    @router.post("/recognize", response_model=RecognizeResponse)
    def recognize(
        image: UploadFile = File(..., description="The photo to recognise."),
        k: int = Form(5, ge=1, le=100, description="Candidates to return."),
        box: Optional[str] = Form(None, max_length=200),
        state: ServerState = Depends(get_state),
    ) -> dict:
        """Which product the photo shows, or known=false when nothing matches well enough."""
        started = time.perf_counter()
        data = state.read_upload(image)
        vector, model_key = state.query_vector(data, parse_query_box(box))
        result = state.catalog.recognition.recognize_vector(vector, k=k, model_key=model_key)
        body = result.to_dict()
        body["candidates"] = [hit_dict(c) for c in result.candidates]
        body["took_ms"] = round((time.perf_counter() - started) * 1000, 2)
        return body

    return router
