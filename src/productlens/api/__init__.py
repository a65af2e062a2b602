"""REST API and web page: a thin FastAPI layer over one `Catalog` (see docs/serving.md).

Importing this package does not import FastAPI; `create_app` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["create_app"]


def create_app(catalog_path: Any, **options: Any) -> "FastAPI":
    """Build the app for the catalogue at `catalog_path`; options as in `app.create_app`."""
    from .app import create_app as _create_app

    return _create_app(catalog_path, **options)
