"""Ingest and query speed of the embedders on the Grocery Store photos, against the goals.

    python benchmarks/bench_ingest.py [--root DIR] [--limit 1000] [--models efficientnet-lite0]

Prints images/s for a plain PyTorch eager loop, ONNX Runtime fp32 and int8 through
`embed_sources` (decode overlapped with inference), single-query latency, and int8-vs-fp32
agreement, each with the target and PASS/MISS.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from productlens import settings
from productlens.images import load_image
from productlens.models import Embedder, create_embedder
from productlens.models.registry import get_spec
from productlens.models.transforms import prepare
from productlens.engine.search import query_image
from productlens.pipeline import embed_sources

TARGETS = {"fp32": 120.0, "int8": 250.0}  # images/s, 2 cores
LATENCY_TARGET_MS = 12.0
QUANTIZATION_IMAGES = 200
QUERIES = 100


def split(dataset: Path, name: str) -> list[Path]:
    lines = (dataset / f"{name}.txt").read_text().splitlines()
    return [dataset / line.split(",")[0].strip() for line in lines if line.strip()]


def torch_eager(name: str, paths: list[Path], batch_size: int) -> float:
    """images/s of decode + prepare + torch forward, batch by batch, 2 threads."""
    import torch

    torch.set_num_threads(2)
    spec = get_spec(name)
    model = spec.build()
    draft = spec.preprocess.resize_size
    with torch.no_grad():
        model(torch.zeros(1, 3, spec.preprocess.input_size, spec.preprocess.input_size))
        started = time.perf_counter()
        for start in range(0, len(paths), batch_size):
            batch = [
                prepare(load_image(p, draft_size=draft).image, spec.preprocess)
                for p in paths[start : start + batch_size]
            ]
            model(torch.from_numpy(np.stack(batch)))
        return len(paths) / (time.perf_counter() - started)


def ingest(embedder: Embedder, paths: list[Path], batch_size: int, workers: int) -> tuple[float, np.ndarray]:
    """images/s through embed_sources, and the vectors (in input order)."""
    list(embed_sources(embedder, paths[:batch_size], batch_size=batch_size, workers=workers))  # warm-up
    started = time.perf_counter()
    vectors = [r.vector for r in embed_sources(embedder, paths, batch_size=batch_size, workers=workers)]
    elapsed = time.perf_counter() - started
    return len(paths) / elapsed, np.stack(vectors)


def latency_ms(embedder: Embedder, paths: list[Path]) -> tuple[float, float]:
    """p50 / p95 of one query (decode + prepare + inference, the engine's query path) over `paths`."""
    embedder.embed([query_image(paths[0], None, embedder.draft_size)])
    times = []
    for path in paths:
        started = time.perf_counter()
        embedder.embed([query_image(path, None, embedder.draft_size)])
        times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(settings.get("grocery_root")))
    parser.add_argument("--limit", type=int, default=1000, help="train images to time")
    parser.add_argument("--models", default="efficientnet-lite0", help="comma-separated names")
    parser.add_argument("--batch-size", type=int, default=int(settings.get("batch_size")))
    parser.add_argument("--workers", type=int, default=2, help="decode threads")
    parser.add_argument("--threads", type=int, default=None, help="ORT intra-op threads")
    args = parser.parse_args()

    dataset = args.root / "dataset"
    train = split(dataset, "train")
    timed = train[: args.limit]
    calibration_paths = (train[args.limit :] or train[::-1])[:QUANTIZATION_IMAGES]
    queries = split(dataset, "test")[:: max(1, len(split(dataset, "test")) // QUERIES)][:QUERIES]
    print(f"{len(timed)} train images timed, {len(calibration_paths)} for int8 calibration, "
          f"{len(queries)} test queries; batch {args.batch_size}, {args.workers} decode threads")

    rows: list[tuple[str, str, str, str]] = []
    for name in args.models.split(","):
        rows.append((name, "torch eager fp32 (batch 32)", f"{torch_eager(name, timed, 32):7.1f} img/s", ""))
        fp32 = create_embedder(name, threads=args.threads)
        with tempfile.TemporaryDirectory() as folder:
            calibration = [load_image(p, draft_size=fp32.draft_size).image for p in calibration_paths]
            started = time.perf_counter()
            int8 = create_embedder(name, "int8", model_dir=folder, quantization_images=calibration, threads=args.threads)
            quantise_s = time.perf_counter() - started
            vectors = {}
            for embedder in (fp32, int8):
                rate, vectors[embedder.precision] = ingest(embedder, timed, args.batch_size, args.workers)
                target = TARGETS[embedder.precision]
                rows.append((name, f"ORT {embedder.precision} ingest", f"{rate:7.1f} img/s",
                             f">= {target:.0f}  {verdict(rate >= target)}"))
            for embedder in (fp32, int8):
                p50, p95 = latency_ms(embedder, queries)
                rows.append((name, f"ORT {embedder.precision} query latency", f"p50 {p50:5.1f} ms  p95 {p95:5.1f} ms",
                             f"p50 <= {LATENCY_TARGET_MS:.0f}  {verdict(p50 <= LATENCY_TARGET_MS)}"))
        cosine = (vectors["int8"] * vectors["fp32"]).sum(axis=1)
        rows.append((name, "int8 vs fp32 cosine", f"mean {cosine.mean():.4f}  min {cosine.min():.4f}", ""))
        rows.append((name, "int8 calibration", f"{quantise_s:5.1f} s on {len(calibration)} images", ""))

    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    header = ("model", "measure", "result", "target")
    widths = [max(w, len(h)) for w, h in zip(widths, header)]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


if __name__ == "__main__":
    main()
