"""A real Milvus server for the backend tests, started once per session."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory):
    """A standalone Milvus server in a temp dir on free ports; fails (never skips) if it cannot start."""
    from milvus import MilvusServer

    server = MilvusServer()
    server.set_base_dir(str(tmp_path_factory.mktemp("milvus")))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server.config.set("proxy_port", port)
    server.start()
    try:
        yield f"milvus://127.0.0.1:{server.listen_port}"
    finally:
        server.stop()
