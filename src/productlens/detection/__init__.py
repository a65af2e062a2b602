"""Product detection: find every product in a photo, so each can be searched on its own.

    from productlens.detection import create_detector
    for d in create_detector().detect(image): d.box, d.score

The default detector (`shelf-lite0`) is an anchor-free, class-agnostic EfficientNet-Lite0 + FPN
network run by ONNX Runtime; see docs/detector-card.md. Importing this package does not import
torch (only training does).
"""

from . import onnx_detector as _onnx_detector  # noqa: F401  (registers the default detector)
from .annotations import AnnotatedPhoto, read_annotations
from .base import DEFAULT_DETECTOR, Box, Detection, Detector, create_detector, list_detectors, register_detector

__all__ = [
    "DEFAULT_DETECTOR",
    "AnnotatedPhoto",
    "Box",
    "Detection",
    "Detector",
    "create_detector",
    "list_detectors",
    "read_annotations",
    "register_detector",
]
