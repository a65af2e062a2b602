"""API keys: writes need `api_key`; reads need `read_key` only when one is configured.

A key is sent as `X-API-Key: KEY` or `Authorization: Bearer KEY`. The write key also opens
reads. Without a configured write key the server is read-only.
"""

from __future__ import annotations

import secrets
from typing import Callable

from fastapi import Request

from .errors import ApiError

Guard = Callable[[Request], None]


def _presented(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return None


def _matches(given: str | None, expected: str | None) -> bool:
    return bool(given and expected and secrets.compare_digest(given.encode(), expected.encode()))


def make_guards(api_key: str | None, read_key: str | None) -> tuple[Guard, Guard]:
    """FastAPI dependencies (require_read, require_write) for the configured keys."""

    def require_read(request: Request) -> None:
        if read_key is None:
            return
        given = _presented(request)
        if not (_matches(given, read_key) or _matches(given, api_key)):
            raise ApiError(401, "unauthorized", "this server needs a read key (X-API-Key header)")

    def require_write(request: Request) -> None:
        if api_key is None:
            raise ApiError(403, "read-only", "writes are disabled: start the server with --api-key (or PRODUCTLENS_API_KEY)")
        if not _matches(_presented(request), api_key):
            raise ApiError(401, "unauthorized", "writes need the API key (X-API-Key header)")

    return require_read, require_write
