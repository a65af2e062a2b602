"""Images by id: metadata, thumbnails (files are found through the database, never by a given path), delete."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import FileResponse

from ..catalog.media import THUMB_SIZES
from .auth import Guard
from .errors import ApiError
from .schemas import Deleted, ErrorBody, ImageOut
from .state import ServerState, get_state, thumb_url

ERRORS = {401: {"model": ErrorBody}, 404: {"model": ErrorBody}, 422: {"model": ErrorBody}}
MAX_ID = 2**62


def build_router(require_read: Guard, require_write: Guard) -> APIRouter:
    router = APIRouter(tags=["images"])

    def record(state: ServerState, image_id: int):
        found = state.catalog.get_images(image_ids=[image_id])
        if not found:
            raise ApiError(404, "image-not-found", f"no image with id {image_id}")
        return found[0]

    @router.get("/images/{image_id}", response_model=ImageOut, dependencies=[Depends(require_read)], responses=ERRORS)
    def get_image(image_id: int = Path(ge=0, le=MAX_ID), state: ServerState = Depends(get_state)) -> dict:
        im = record(state, image_id)
        return {"id": im.id, "product_id": im.product_id, "width": im.width, "height": im.height,
                "format": im.format, "added_at": im.added_at, "thumb_url": thumb_url(im.id)}

    @router.get("/images/{image_id}/thumb", dependencies=[Depends(require_read)], responses={
        **ERRORS, 200: {"content": {"image/jpeg": {}}, "description": "A JPEG thumbnail."}})
    def thumbnail(
        image_id: int = Path(ge=0, le=MAX_ID),
        size: int = Query(256, description=f"One of {THUMB_SIZES}."),
        state: ServerState = Depends(get_state),
    ) -> FileResponse:
        """A JPEG no larger than size x size, cached in the catalogue's media folder."""
        if size not in THUMB_SIZES:
            raise ApiError(422, "invalid-request", f"size must be one of {THUMB_SIZES}")
        path = state.catalog.media.thumbnail(record(state, image_id), size)
        if path is None:
            raise ApiError(404, "image-file-missing", f"the file of image {image_id} is no longer available")
        return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "public, max-age=86400"})

    @router.delete("/images/{image_id}", response_model=Deleted, dependencies=[Depends(require_write)],
                   responses={**ERRORS, 403: {"model": ErrorBody}})
    def delete_image(image_id: int = Path(ge=0, le=MAX_ID), state: ServerState = Depends(get_state)) -> dict:
        """Remove one image (and its embedding) from its product."""
        if not state.catalog.remove_image(image_id):
            raise ApiError(404, "image-not-found", f"no image with id {image_id}")
        return {"deleted": str(image_id), "images_removed": 1}

    return router
