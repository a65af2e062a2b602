"""`Embedder`: an exported ONNX model run with ONNX Runtime, plus `create_embedder`.

fp32 models are exported once per machine into the cache folder; int8 models are calibrated on
catalogue images and live in the catalogue's own folder. Either way later calls just load a file.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import settings
from ..errors import ModelError
from .export import INPUT_NAME, export_onnx
from .quantize import quantize_int8
from .registry import EmbedderSpec, get_spec
from .transforms import PreprocessConfig, prepare

if TYPE_CHECKING:
    import onnxruntime
    from PIL import Image

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "int8")


class Embedder:
    """Images -> L2-normalised embedding rows, for one model, version and precision.

    `key` names the embedding space: vectors are only comparable when their keys are equal.
    """

    def __init__(
        self, spec: EmbedderSpec, precision: str, onnx_path: Path, threads: int | None = None
    ) -> None:
        self.name = spec.name
        self.precision = precision
        self.dim = spec.dim
        self.preprocess: PreprocessConfig = spec.preprocess
        self.version = spec.version
        self.key = f"{spec.name}/{spec.version}/{precision}"
        self.onnx_path = onnx_path
        self.draft_size = spec.preprocess.resize_size
        self.session = open_session(onnx_path, threads)

    def __repr__(self) -> str:
        return f"Embedder({self.key!r}, onnx_path={str(self.onnx_path)!r})"

    def prepare(self, image: Image.Image) -> np.ndarray:
        """RGB PIL image -> (3, S, S) float32, resized, centre-cropped and scaled for this model."""
        return prepare(image, self.preprocess)

    def embed_arrays(self, batch: np.ndarray) -> np.ndarray:
        """(n, 3, S, S) float32 -> (n, dim) float32 with unit-length rows."""
        if len(batch) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        n = len(batch)
        if self.preprocess.flip_tta:
            batch = np.concatenate([batch, batch[..., ::-1]])
        try:
            (features,) = self.session.run(None, {INPUT_NAME: batch})
        except Exception as exc:  # ORT raises its own exception types (bad shape, ...)
            raise ModelError(f"{self.key} inference failed: {exc}") from exc
        if self.preprocess.flip_tta:  # mean of the unit embeddings of the image and its mirror
            features = l2_normalise(features[:n]) + l2_normalise(features[n:])
        return l2_normalise(features)

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        """RGB PIL images -> (n, dim) float32 unit rows."""
        size = self.preprocess.input_size
        batch = np.empty((len(images), 3, size, size), dtype=np.float32)
        for i, image in enumerate(images):
            batch[i] = self.prepare(image)
        return self.embed_arrays(batch)


def l2_normalise(features: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (all-zero rows stay zero)."""
    features = np.asarray(features, dtype=np.float32)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.maximum(norms, 1e-12)


def open_session(path: Path, threads: int | None = None) -> onnxruntime.InferenceSession:
    """A CPU ORT session with full graph optimisation.

    Spinning is off: ingest shares the cores with decoding threads, and busy-waiting intra-op
    threads would steal their time.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = int(settings.get("threads") if threads is None else threads)
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelError(f"cannot load ONNX model {path}: {exc}") from exc


def fp32_path(spec: EmbedderSpec, model_dir: Path) -> Path:
    return model_dir / f"{spec.name}-{spec.version}-fp32.onnx"


def int8_path(spec: EmbedderSpec, model_dir: Path) -> Path:
    return model_dir / f"{spec.name}-{spec.version}-int8.onnx"


def create_embedder(
    name: str = "efficientnet-lite0",
    precision: str = "fp32",
    *,
    model_dir: str | Path | None = None,
    quantization_images: Sequence[Image.Image] | None = None,
    threads: int | None = None,
) -> Embedder:
    """Load (exporting or quantising on first use) the embedder registered under `name`.

    model_dir: where the ONNX files live; default `<cache_dir>/onnx`. The fp32 file is exported
    there once. An int8 file there is reused; if missing it is built from `quantization_images`
    (catalogue photos), and without them ModelError is raised.
    threads: ORT intra-op threads; default the `threads` setting (0 = one per core).
    """
    spec = get_spec(name)
    if precision not in PRECISIONS:
        raise ModelError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    folder = Path(model_dir) if model_dir is not None else Path(settings.get("cache_dir")) / "onnx"
    fp32 = fp32_path(spec, folder)
    if precision == "fp32":
        if not fp32.exists():
            export_onnx(spec, fp32)
        return Embedder(spec, "fp32", fp32, threads)
    int8 = int8_path(spec, folder)
    if not int8.exists():
        if not quantization_images:
            raise ModelError(
                f"no int8 model at {int8} and no sample images to quantise it on; "
                "pass quantization_images (a few hundred catalogue photos) or use precision='fp32'"
            )
        if not fp32.exists():  # quantise from the shared export rather than copy it per catalogue
            fp32 = fp32_path(spec, Path(settings.get("cache_dir")) / "onnx")
            if not fp32.exists():
                export_onnx(spec, fp32)
        quantize_int8(fp32, int8, [prepare(img, spec.preprocess) for img in quantization_images])
    return Embedder(spec, "int8", int8, threads)
