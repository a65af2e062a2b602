"""Load the embedder of a trained model version: one ONNX file (backbone + head) in the catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ModelError
from .embedder import Embedder
from .registry import EmbedderSpec
from .transforms import PreprocessConfig


def _no_build() -> Any:
    raise ModelError("a trained version is loaded from its ONNX file; it has no torch builder")


def load_embedder_file(path: str | Path, name: str, version: str, dim: int, preprocess: PreprocessConfig,
                       precision: str = "fp32", threads: int | None = None) -> Embedder:
    """An Embedder over an existing ONNX file; its key is `name/version/precision`."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"model file {path} is missing: the catalogue's model version cannot be loaded")
    return Embedder(EmbedderSpec(name, dim, preprocess, _no_build, version), precision, path, threads)


def embedder_for_record(catalog_path: Path, record: Any, threads: int | None = None) -> Embedder:
    """The embedder of a ModelRecord whose info names an ONNX file (relative to the catalogue)."""
    return load_embedder_file(Path(catalog_path) / record.info["onnx"], record.name, record.version, record.dim,
                              PreprocessConfig.from_dict(record.preprocess), record.precision, threads)
