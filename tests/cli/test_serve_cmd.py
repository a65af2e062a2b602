"""`productlens serve` starts the real server process; a bad catalogue path fails cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from processes import serving, write_lock_held

from productlens import Catalog


def test_serve_command(tiny_catalog, query_photos):
    with serving(tiny_catalog, api_key="cli-key") as server:
        r = httpx.post(server.url + "/search", files={"image": ("q.jpg", query_photos["Banana"].read_bytes())}, timeout=30)
        assert r.json()["results"][0]["id"] == "Banana"
        assert httpx.post(server.url + "/products", json={"id": "x", "title": "x"}).status_code == 401
        with server.client() as client:
            assert client.post("/products", json={"id": "x", "title": "x"}).status_code == 201


def test_serve_missing_catalogue(tmp_path):
    r = subprocess.run([sys.executable, "-m", "productlens", "--catalog", str(tmp_path / "none"), "serve"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stderr.startswith("Error: no catalogue at")


def test_sigterm_stops_the_server_within_seconds_with_a_request_in_flight(fast_catalog, fast_queries, tiny_model):
    """Issue #12.1: the server ignored SIGTERM while a request ran. Here the request waits for the
    write lock that another writer holds (as during a `models use`), with a budget of minutes."""
    photo = fast_queries["red-blue"].read_bytes()
    with serving(fast_catalog, env={"PRODUCTLENS_REQUEST_TIMEOUT": "300"}) as server, write_lock_held(fast_catalog):
        with ThreadPoolExecutor(1) as pool, server.client(timeout=60) as client:
            upload = pool.submit(client.post, "/products/red-blue/images", files={"image": ("u.jpg", photo, "image/jpeg")})
            time.sleep(1.5)
            assert not upload.done()
            took = server.stop(signal.SIGTERM)
            assert took < 6, f"serve took {took:.1f} s to stop"
            try:
                answer = upload.result(timeout=10)
            except httpx.TransportError:
                pass  # the connection closed: acceptable, the write was never made
            else:
                assert answer.status_code == 503 and answer.json()["error"]["code"] == "shutting-down"
    with Catalog.open(fast_catalog) as shop:
        assert shop.info()["images"] == 12  # nothing half-written
