"""Recommendations (a read) and shopper interactions (a write, key needed like every write)."""

from __future__ import annotations

from typing import Any, Optional

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from ..results import ProductHit
from .auth import Guard
from .errors import ApiError
from .routes_products import ERRORS, WRITE_ERRORS
from .schemas import ProductOut
from .state import ServerState, get_state, thumb_url

MAX_ROWS = 10_000  # events in one request; a bigger log goes through `productlens interactions add`


class RecommendedProduct(ProductOut):
    rank: int
    score: float
    image_id: int
    thumb_url: Optional[str] = None  # None for a product without photos


class RecommendResponse(BaseModel):
    user: Optional[str] = None
    items: Optional[list[str]] = None
    product: Optional[str] = None
    results: list[RecommendedProduct]


class InteractionIn(BaseModel):
    user_id: str = Field(min_length=1, max_length=500)
    product_id: str = Field(min_length=1, max_length=500)
    event: Optional[str] = Field(None, max_length=100)
    weight: Optional[float] = None
    timestamp: Optional[Any] = None  # seconds since the epoch or an ISO date
    basket_id: Optional[str] = Field(None, max_length=500)


class InteractionsIn(BaseModel):
    events: list[InteractionIn] = Field(max_length=MAX_ROWS)
    known_only: bool = False


class InteractionsAdded(BaseModel):
    read: int
    added: int
    already_there: int
    products_created: int
    skipped: int
    problems: list[str]


def _hit(hit: ProductHit) -> dict:
    return {**hit.to_dict(), "thumb_url": thumb_url(hit.image_id) if hit.image_id >= 0 else None}


def build_router(require_read: Guard, require_write: Guard) -> APIRouter:
    router = APIRouter(tags=["recommendations"])

    @router.get("/recommend", response_model=RecommendResponse, dependencies=[Depends(require_read)], responses=ERRORS)
    def recommend(
        user: Optional[str] = Query(None, max_length=500, description="A shopper id: from their history."),
        items: Optional[str] = Query(None, max_length=20_000, description="A basket: product ids, comma-separated."),
        product: Optional[str] = Query(None, max_length=500, description="Products often bought with this one."),
        k: int = Query(10, ge=1, le=100),
        where: Optional[str] = Query(None, max_length=2000),
        exclude_seen: bool = Query(True, description="Leave out what the user already interacted with."),
        state: ServerState = Depends(get_state),
    ) -> dict:
        """Recommended products for exactly one of `user`, `items` or `product`, best first."""
        if sum(x is not None for x in (user, items, product)) != 1:
            raise ApiError(400, "bad-request", "give exactly one of user, items or product")
        basket = [i.strip() for i in items.split(",") if i.strip()] if items is not None else None
        hits = state.catalog.recommend(user=user, items=basket, product=product, k=k, where=where,
                                       exclude_seen=exclude_seen)
        return {"user": user, "items": basket, "product": product, "results": [_hit(h) for h in hits]}

    @router.post("/interactions", response_model=InteractionsAdded, dependencies=[Depends(require_write)],
                 responses=WRITE_ERRORS)
    def add_interactions(body: InteractionsIn, state: ServerState = Depends(get_state)) -> dict:
        """Add shopper events in one transaction: bad rows are reported and skipped, repeats add nothing."""
        rows = [e.model_dump(exclude_none=True) for e in body.events]
        return state.catalog.add_interactions(rows, known_only=body.known_only).to_dict()

    return router
