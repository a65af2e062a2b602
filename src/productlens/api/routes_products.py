"""Products: list, read, similar (reads); create, update, delete, add images (writes)."""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse

from ..catalog.store import Product
from ..errors import ProductNotFoundError
from ..images import content_hash
from .auth import Guard
from .errors import ApiError
from .schemas import (
    Access,
    Deleted,
    ErrorBody,
    ImageAdded,
    ProductDetail,
    ProductIn,
    ProductList,
    ProductUpdate,
    SimilarResponse,
)
from .state import ServerState, get_state, hit_dict, thumb_url

ERRORS = {400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 404: {"model": ErrorBody}, 422: {"model": ErrorBody}}
WRITE_ERRORS = {**ERRORS, 403: {"model": ErrorBody}, 409: {"model": ErrorBody}, 413: {"model": ErrorBody}}


def _detail(state: ServerState, product: Product) -> dict:
    images = state.catalog.get_images(product.id)
    return {**product.to_dict(), "images": [
        {"id": im.id, "product_id": im.product_id, "width": im.width, "height": im.height, "format": im.format,
         "added_at": im.added_at, "thumb_url": thumb_url(im.id)} for im in images]}


def build_router(require_read: Guard, require_write: Guard) -> APIRouter:
    router = APIRouter(tags=["products"])
    read = [Depends(require_read)]
    write = [Depends(require_write)]

    @router.get("/products", response_model=ProductList, dependencies=read, responses=ERRORS)
    def list_products(
        where: Optional[str] = Query(None, max_length=2000, description="Filter, e.g. category = 'Milk'."),
        limit: int = Query(50, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=10_000_000),
        state: ServerState = Depends(get_state),
    ) -> dict:
        """Products in id order, optionally filtered; `total` counts all that match."""
        matching = state.catalog.list_products(where)
        page = matching[offset: offset + limit]
        first = state.catalog.product_cache.first_images([p.id for p in page])
        return {"products": [{**p.to_dict(), "thumb_url": thumb_url(first[p.id]) if p.id in first else None}
                             for p in page],
                "total": len(matching), "offset": offset, "limit": limit}

    @router.get("/products/{product_id}", response_model=ProductDetail, dependencies=read, responses=ERRORS)
    def get_product(product_id: str, state: ServerState = Depends(get_state)) -> dict:
        """One product with its images."""
        return _detail(state, state.catalog.get_product(product_id))

    @router.get("/products/{product_id}/similar", response_model=SimilarResponse, dependencies=read, responses=ERRORS)
    def similar(
        product_id: str,
        k: int = Query(10, ge=1, le=100),
        where: Optional[str] = Query(None, max_length=2000),
        blend: float = Query(0.0, ge=0, le=1, description="Mix in 'often bought with': 0 looks only."),
        state: ServerState = Depends(get_state),
    ) -> dict:
        """Other products that look like this one (with `blend`, also bought with it)."""
        hits = state.catalog.similar(product_id, k=k, where=where, blend=blend)
        return {"product": product_id, "results": [hit_dict(h) for h in hits]}

    @router.post("/products", status_code=201, response_model=ProductDetail, dependencies=write, responses=WRITE_ERRORS)
    def create_product(body: ProductIn, state: ServerState = Depends(get_state)) -> dict:
        """Create a product (409 if the id exists; use PUT to change it)."""
        try:
            state.catalog.get_product(body.id)
        except ProductNotFoundError:
            pass
        else:
            raise ApiError(409, "product-exists", f"a product with id {body.id!r} already exists")
        product = state.catalog.upsert_product(Product(body.id, body.title, body.category, body.description, body.attributes))
        return _detail(state, product)

    @router.put("/products/{product_id}", response_model=ProductDetail, dependencies=write, responses=WRITE_ERRORS)
    def update_product(product_id: str, body: ProductUpdate, state: ServerState = Depends(get_state)) -> dict:
        """Change fields of a product; fields left out stay as they are."""
        changes = body.model_dump(exclude_unset=True)
        if changes.get("title", "") is None:
            changes.pop("title")  # a title cannot be removed
        return _detail(state, state.catalog.update_product(product_id, **changes))

    @router.delete("/products/{product_id}", response_model=Deleted, dependencies=write, responses=WRITE_ERRORS)
    def delete_product(product_id: str, state: ServerState = Depends(get_state)) -> dict:
        """Delete a product with all its images."""
        removed = state.catalog.remove([product_id])
        return {"deleted": product_id, "images_removed": removed}

    @router.post("/products/{product_id}/images", status_code=201, response_model=ImageAdded, dependencies=write,
                 responses=WRITE_ERRORS)
    def add_image(product_id: str, image: UploadFile = File(...), state: ServerState = Depends(get_state)):
        """Add a photo to a product; the same bytes twice are reported as a duplicate (200)."""
        data = state.read_upload(image)
        image_id = state.catalog.add_upload(product_id, data, max_pixels=state.max_pixels)
        if image_id is not None:
            return {"image_id": image_id, "product_id": product_id, "duplicate": False}
        sha = content_hash(data)  # a duplicate: the id of the image the product has already
        existing = next(im.id for im in state.catalog.get_images(product_id) if im.sha256 == sha)
        return JSONResponse({"image_id": existing, "product_id": product_id, "duplicate": True}, status_code=200)

    @router.get("/access", response_model=Access, tags=["system"])
    def access(request: Request) -> dict:
        """What the key sent may do, without trying a write (always open, like /healthz)."""

        def refusal(guard: Guard) -> ApiError | None:
            try:
                guard(request)
            except ApiError as exc:
                return exc
            return None

        write = refusal(require_write)
        return {"writes_enabled": write is None or write.status != 403, "can_read": refusal(require_read) is None,
                "can_write": write is None}

    return router
