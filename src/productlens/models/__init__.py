"""Embedders: a registry of image networks, exported to ONNX and run with ONNX Runtime.

    create_embedder("efficientnet-lite0")          fp32, exported once into the cache
    create_embedder(..., precision="int8", model_dir=catalogue, quantization_images=photos)

Importing this package is cheap: torch loads only when a model is exported.
"""

from . import efficientnet as _efficientnet  # noqa: F401  (registers the Lite family)
from .embedder import Embedder, create_embedder
from .registry import EmbedderSpec, list_embedders, register_embedder
from .transforms import PreprocessConfig

__all__ = [
    "Embedder",
    "EmbedderSpec",
    "PreprocessConfig",
    "create_embedder",
    "list_embedders",
    "register_embedder",
]
