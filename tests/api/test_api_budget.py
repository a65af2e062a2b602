"""Every request has a time budget (issue #12.1): a write that would wait on another writer's lock
is refused in time with a retryable 503, a request still running at its deadline (a body that
never arrives) is answered 504, and the server keeps answering other requests meanwhile."""

from __future__ import annotations

import socket
import time

import pytest
from processes import write_lock_held

API_KEY = "budget-key"
BUDGET_S = 1.5

pytestmark = pytest.mark.fast


@pytest.fixture
def server(fast_catalog, serve_app):
    with serve_app(fast_catalog, api_key=API_KEY, request_timeout=BUDGET_S) as live:
        yield live


def test_a_write_waiting_for_another_writer_is_refused_within_the_budget(server, fast_queries):
    photo = fast_queries["red-blue"].read_bytes()
    with server.client(API_KEY) as client:
        with write_lock_held(server.catalog_path):
            started = time.monotonic()
            refused = client.post("/products/red-blue/images", files={"image": ("u.jpg", photo, "image/jpeg")})
            waited = time.monotonic() - started
            assert refused.status_code == 503 and refused.json()["error"]["code"] == "busy", refused.text
            assert "try again" in refused.json()["error"]["message"] and refused.headers["Retry-After"] == "5"
            assert BUDGET_S - 0.1 <= waited < BUDGET_S + 3
            assert client.get("/healthz").json()["images"] == 12  # reads go on while a writer holds the lock
            found = client.post("/search", files={"image": ("q.jpg", photo, "image/jpeg")}).json()
            assert found["results"][0]["id"] == "red-blue"
        added = client.post("/products/red-blue/images", files={"image": ("u.jpg", photo, "image/jpeg")})
        assert added.status_code == 201 and client.get("/healthz").json()["images"] == 13


def test_a_request_still_running_at_its_deadline_is_answered_504(server):
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                     b"Content-Length: 100000\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nmil")
        started = time.monotonic()
        reply = conn.recv(4096).decode()  # the rest of the body never comes
        waited = time.monotonic() - started
        while "}}" not in reply and (more := conn.recv(4096)):
            reply += more.decode()
    assert reply.startswith("HTTP/1.1 504") and '"code":"timeout"' in reply and waited < BUDGET_S + 3
    with server.client(API_KEY) as client:
        assert client.get("/healthz").status_code == 200
