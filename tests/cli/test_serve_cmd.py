"""`productlens serve` starts the real server process; a bad catalogue path fails cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx


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
    assert r.returncode == 1 and r.stderr.startswith("Error: no catalogue at")
