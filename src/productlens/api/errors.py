"""Every error leaves the API as JSON `{"error": {"code", "message"}}` with a fitting status."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import (
    BoxError,
    CatalogBusyError,
    CatalogError,
    FilterSyntaxError,
    ImageError,
    ImageTooLargeError,
    ModelChangedError,
    ModelError,
    ProductLensError,
    ProductNotFoundError,
    StorageError,
    TimeBudgetError,
    VectorIndexError,
)

log = logging.getLogger(__name__)


class BodyTooLarge(Exception):
    """Raised while a request body streams in, once it passes the cap."""


class ApiError(Exception):
    """An error raised by a route, with its HTTP status and machine-readable code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


_HTTP_CODES = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
               405: "method-not-allowed", 413: "too-large", 415: "unsupported-media-type"}


RETRY_AFTER = {CatalogBusyError: "5", ModelChangedError: "1"}  # seconds a client should wait before retrying


def _status_of(exc: ProductLensError) -> tuple[int, str]:
    """Map the library's exception tree to HTTP: the client's fault is 4xx, ours 5xx; 503 when a
    retry will do (another writer busy, a model switch in the middle), 504 past the time budget."""
    if isinstance(exc, CatalogBusyError):
        return 503, "busy"
    if isinstance(exc, ModelChangedError):
        return 503, "model-changed"
    if isinstance(exc, TimeBudgetError):
        return 504, "timeout"
    if isinstance(exc, StorageError):
        return 500, "storage"
    if isinstance(exc, ImageTooLargeError):
        return 413, exc.reason
    if isinstance(exc, ImageError):
        return 422, exc.reason
    if isinstance(exc, ProductNotFoundError):
        return 404, "product-not-found"
    if isinstance(exc, FilterSyntaxError):
        return 400, "bad-filter"
    if isinstance(exc, BoxError):
        return 400, "bad-box"
    if isinstance(exc, (ModelError, VectorIndexError, CatalogError)):
        return 500, type(exc).__name__
    return 400, "bad-request"  # e.g. a box that does not parse or leaves too few pixels


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(ProductLensError)
    async def _library_error(request: Request, exc: ProductLensError) -> JSONResponse:
        status, code = _status_of(exc)
        if status >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc)
        retry = next((after for kind, after in RETRY_AFTER.items() if isinstance(exc, kind)), None)
        return error_response(status, code, str(exc), headers={"Retry-After": retry} if retry else None)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where}: {err.get('msg')}")
        return error_response(422, "invalid-request", "; ".join(parts) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, BodyTooLarge):  # FastAPI wraps body-read errors in a 400
            return error_response(413, "too-large", str(exc.__cause__))
        return error_response(exc.status_code, _HTTP_CODES.get(exc.status_code, "http-error"), str(exc.detail),
                              headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "internal server error")
