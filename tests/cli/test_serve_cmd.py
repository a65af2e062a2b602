"""`productlens serve` starts the real server process; a bad catalogue path fails cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from processes import serving, write_lock_held

from productlens import Catalog


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_command(tiny_catalog, query_photos):
    port = _free_port()
    cmd = [sys.executable, "-m", "productlens", "--catalog", str(tiny_catalog), "-q", "serve",
           "--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, "PRODUCTLENS_API_KEY": "cli-key"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read().decode()
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)
        r = httpx.post(url + "/search", files={"image": ("q.jpg", query_photos["Banana"].read_bytes())}, timeout=30)
        assert r.json()["results"][0]["id"] == "Banana"
        assert httpx.post(url + "/products", json={"id": "x", "title": "x"}).status_code == 401
        r = httpx.post(url + "/products", json={"id": "x", "title": "x"}, headers={"X-API-Key": "cli-key"})
        assert r.status_code == 201
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def test_serve_missing_catalogue(tmp_path):
    r = subprocess.run([sys.executable, "-m", "productlens", "--catalog", str(tmp_path / "none"), "serve"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "CatalogNotFoundError" in r.stderr


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
