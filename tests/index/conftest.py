"""A real Milvus server for the backend tests, started once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory):
    """A standalone Milvus server in a temp dir on free ports; fails (never skips) if it cannot start."""
    from productlens.index.milvus import start_local_server

    server, uri = start_local_server(str(tmp_path_factory.mktemp("milvus")))
    try:
        yield uri
    finally:
        server.stop()
