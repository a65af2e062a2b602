"""One-time export of a registered torch model to ONNX, written atomically."""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path

from ..atomic import atomic_file
from ..errors import ModelError, StorageError
from .registry import EmbedderSpec

log = logging.getLogger(__name__)

INPUT_NAME = "images"
OUTPUT_NAME = "features"
OPSET = 17


def export_onnx(spec: EmbedderSpec, path: Path) -> Path:
    """Export `spec`'s network to `path` (dynamic batch axis, opset 17, constant folding).

    The file is written under a temporary name in the same folder and moved into place with
    os.replace, so a concurrent reader sees either no file or a complete one (atomic.py: one left
    by a killed export is removed by the next writer of that folder).
    """
    import torch

    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    model = spec.build()
    size = spec.preprocess.input_size
    try:
        with atomic_file(path) as tmp, torch.no_grad(), warnings.catch_warnings():
            # Notices about constant folding of the static-padding slices, and about the legacy
            # TorchScript exporter (the dynamo one needs onnxscript, which we do not depend on).
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                model,
                (torch.zeros(1, 3, size, size),),
                str(tmp),
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
    except StorageError:
        raise
    except Exception as exc:
        raise ModelError(f"exporting {spec.name} to ONNX failed: {exc}") from exc
    log.info("exported %s to %s in %.1fs", spec.name, path, time.perf_counter() - started)
    return path
