"""A real uvicorn server on a loopback port, serving a copy of the tiny catalogue."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from browser_support import launch

API_KEY = "test-key-123"


class LiveServer:
    def __init__(self, url: str, catalog_path: Path) -> None:
        self.url, self.catalog_path = url, catalog_path

    def client(self, key: str | None = API_KEY) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": key} if key else {}, timeout=60)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(catalog_path: Path, **options) -> Iterator[LiveServer]:
    """Run create_app(catalog_path, **options) under uvicorn in a thread until the block ends."""
    import uvicorn

    from productlens.api import create_app

    port = free_port()
    config = uvicorn.Config(create_app(catalog_path, **options), host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", catalog_path)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="session")
def api_catalog(tiny_catalog_template, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("api") / "shop"
    shutil.copytree(tiny_catalog_template, path)
    return path


@pytest.fixture(scope="session")
def live_server(api_catalog) -> Iterator[LiveServer]:
    """One server for the API tests; tests that write use their own product ids."""
    with serve(api_catalog, api_key=API_KEY) as server:
        yield server


@pytest.fixture
def client(live_server) -> Iterator[httpx.Client]:
    with live_server.client() as c:
        yield c


@pytest.fixture
def anon(live_server) -> Iterator[httpx.Client]:
    with live_server.client(key=None) as c:
        yield c


@pytest.fixture(scope="session")
def serve_app():
    """The `serve` context manager, for tests that need a server with other options."""
    return serve


@pytest.fixture
def keyed_server(fast_catalog, request) -> Iterator[LiveServer]:
    """The fast catalogue served with the calling test module's API_KEY as its write key."""
    with serve(fast_catalog, api_key=request.module.API_KEY) as live:
        yield live


@pytest.fixture(scope="session")
def serve_copy(tiny_catalog_template, tmp_path_factory):
    """`serve_copy(**options)`: a server over a fresh copy of the tiny catalogue (a context manager)."""

    @contextmanager
    def start(**options) -> Iterator[LiveServer]:
        path = tmp_path_factory.mktemp("served") / "shop"
        shutil.copytree(tiny_catalog_template, path)
        with serve(path, **options) as server:
            yield server

    return start


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium, one per test module (browser_support.py)."""
    yield from launch()
