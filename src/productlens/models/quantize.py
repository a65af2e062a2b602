"""Static INT8 quantisation (QDQ, per-channel weights) calibrated on catalogue images.

Dynamic quantisation was measured slower and less accurate for this network, so only the static
path exists. Settings below were chosen by measuring cosine agreement with fp32 and retrieval
quality on the Grocery Store photos (see benchmarks/bench_ingest.py).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .export import INPUT_NAME

log = logging.getLogger(__name__)

CALIBRATION_BATCH = 16


class _Batches:
    """onnxruntime CalibrationDataReader over prepared (3, S, S) arrays."""

    def __init__(self, arrays: Sequence[np.ndarray]) -> None:
        self._arrays = arrays
        self._iter = self._batches()

    def _batches(self) -> Iterator[dict[str, np.ndarray]]:
        for start in range(0, len(self._arrays), CALIBRATION_BATCH):
            yield {INPUT_NAME: np.stack(self._arrays[start : start + CALIBRATION_BATCH])}

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._iter, None)

    def rewind(self) -> None:
        self._iter = self._batches()


def quantize_int8(fp32_path: Path, out_path: Path, samples: Sequence[np.ndarray]) -> Path:
    """Write a QDQ int8 copy of `fp32_path` to `out_path`, its activation ranges taken on `samples` (preprocessed images).

    Written to a temporary file in the target folder and moved into place atomically.
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not samples:
        raise ModelError("int8 quantisation needs at least one sample image")
    started = time.perf_counter()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_path.parent) as work:
        pre = Path(work) / "pre.onnx"
        tmp = Path(work) / "int8.onnx"
        try:
            quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
            quantize_static(
                str(pre),
                str(tmp),
                _Batches(samples),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
                # 7-bit weights: CPUs without VNNI multiply u8 x s8 with VPMADDUBSW, whose 16-bit
                # sums saturate on full-range weights (measured on an AVX2-only EPYC: min cosine
                # to fp32 0.77 without, 0.90 with, over Grocery val photos).
                reduce_range=True,
            )
        except Exception as exc:
            raise ModelError(f"int8 quantisation of {fp32_path.name} failed: {exc}") from exc
        os.replace(tmp, out_path)
    log.info(
        "quantised %s to int8 on %d images in %.1fs",
        fp32_path.name, len(samples), time.perf_counter() - started,
    )
    return out_path
