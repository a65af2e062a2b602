"""`create_app`: the FastAPI app serving one catalogue, its REST API and its web page.

The catalogue (model session and vector index included) is opened once, at startup. Endpoints
are plain functions run on FastAPI's thread pool; writes go through the Catalog's writer lock,
and searches read a LiveIndex that is only changed under its own lock, so a search never sees a
half-built index.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles

from .. import __version__, settings
from ..engine import Catalog
from . import routes_detect, routes_images, routes_products, routes_recommend, routes_search
from .auth import make_guards
from .batcher import EmbedBatcher
from .docs_page import install_docs_page
from .errors import install_error_handlers
from .metrics import Metrics
from .middleware import ServeMiddleware
from .schemas import Health
from .state import ServerState, get_state

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).parent / "web"
DEFAULT_MAX_UPLOAD = 20 * 1024 * 1024
FORM_OVERHEAD = 64 * 1024  # multipart headers and small fields around the file


def create_app(
    catalog_path: str | Path,
    *,
    api_key: str | None = None,
    read_key: str | None = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD,
    max_pixels: int | None = None,
    max_batch: int = 0,
    request_timeout: float | None = None,
) -> FastAPI:
    """The app for the catalogue at `catalog_path` (which must exist).

    api_key: needed for writes (no key: the server is read-only). read_key: if set, reads need
    it (or the api_key). max_upload_bytes / max_pixels: caps on each uploaded image.
    max_batch: most concurrent queries embedded in one model call; 0 (the default) lets each
    request thread call the model itself, which measured faster on 2 cores (docs/serving.md).
    request_timeout: each request's time budget in seconds (default: the `request_timeout` setting).
    """
    catalog_path = Path(catalog_path)
    pixels = int(max_pixels if max_pixels is not None else settings.get("max_image_pixels"))
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        catalog = Catalog.open(catalog_path)
        embedder = catalog.embedder()  # load the model and index once, before the first request
        catalog.info()
        batcher = EmbedBatcher(embedder, max_batch=max_batch, on_batch=metrics.observe_batch)
        app.state.server = ServerState(catalog, batcher, metrics, max_upload_bytes, pixels)
        metrics.gauge("productlens_catalog_products", "Products in the catalogue.", lambda: catalog.counts()["products"])
        metrics.gauge("productlens_catalog_images", "Images in the catalogue.", lambda: catalog.counts()["images"])
        metrics.gauge("productlens_catalog_generation", "Write generation of the catalogue.",
                      lambda: catalog.counts()["generation"])
        log.info("serving %s (%s)", catalog_path, embedder.key)
        try:
            yield
        finally:
            batcher.close()
            catalog.close()

    app = FastAPI(
        title="productlens",
        version=__version__,
        description="Visual product search: search a catalogue by photo, recognise products, manage the catalogue.",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs_page from local assets
        redoc_url=None,
    )
    require_read, require_write = make_guards(api_key, read_key)
    install_error_handlers(app)
    install_docs_page(app)
    app.include_router(routes_search.build_router(require_read, require_write))
    app.include_router(routes_detect.build_router(require_read))
    app.include_router(routes_products.build_router(require_read, require_write))
    app.include_router(routes_images.build_router(require_read, require_write))
    app.include_router(routes_recommend.build_router(require_read, require_write))

    @app.get("/healthz", response_model=Health, tags=["system"])
    def healthz(state: ServerState = Depends(get_state)) -> dict:
        """Liveness plus catalogue counts (always open, no key needed)."""
        info = state.catalog.info()
        return {"status": "ok", "products": info["products"], "images": info["images"],
                "indexed_vectors": info["indexed_vectors"], "model": info["model_key"] or info["model"],
                "generation": info["generation"]}

    @app.get("/metrics", response_class=PlainTextResponse, tags=["system"], dependencies=[Depends(require_read)])
    def prometheus() -> PlainTextResponse:
        """Prometheus text exposition."""
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    budget_s = float(request_timeout if request_timeout is not None else settings.get("request_timeout"))
    app.add_middleware(ServeMiddleware, metrics=metrics, max_body=max_upload_bytes + FORM_OVERHEAD, budget_s=budget_s)
    return app
