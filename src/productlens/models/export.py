"""One-time export of a registered torch model to ONNX, written atomically."""

from __future__ import annotations

import logging
import os
import tempfile
import time
import warnings
from pathlib import Path

from ..errors import ModelError
from .registry import EmbedderSpec

log = logging.getLogger(__name__)

INPUT_NAME = "images"
OUTPUT_NAME = "features"
OPSET = 17


def export_onnx(spec: EmbedderSpec, path: Path) -> Path:
    """Export `spec`'s network to `path` (dynamic batch axis, opset 17, constant folding).

    The file is written under a temporary name in the same folder and moved into place with
    os.replace, so a concurrent reader sees either no file or a complete one.
    """
    import torch

    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    model = spec.build()
    size = spec.preprocess.input_size
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # Notices about constant folding of the static-padding slices, and about the legacy
            # TorchScript exporter (the dynamo one needs onnxscript, which we do not depend on).
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                model,
                (torch.zeros(1, 3, size, size),),
                tmp,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the cache may be shared
        os.replace(tmp, path)
    except Exception as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ModelError(f"exporting {spec.name} to ONNX failed: {exc}") from exc
    log.info("exported %s to %s in %.1fs", spec.name, path, time.perf_counter() - started)
    return path
