"""The `productlens` command line: a thin layer over `productlens.Catalog`."""

from .main import cli, main

__all__ = ["cli", "main"]
