"""The catalogue store: SQLite schema and access, ingest readers, dataset adapters."""

from .ingest import IngestItem, read_source
from .store import CatalogStore, ImageRecord, ModelRecord, NewImage, Product

__all__ = ["CatalogStore", "ImageRecord", "IngestItem", "ModelRecord", "NewImage", "Product", "read_source"]
