"""Catalogue build, single-query latency and retrieval quality on the Grocery Store data.

    python benchmarks/bench_search.py [--root DIR] [--queries 200] [--precisions fp32 int8]

For each precision: builds a catalogue from the train split (ingest img/s through
`Catalog.add`, the real code path), times `Catalog.search` on test photos one at a time
(decode + embed + index + aggregate + product lookup: p50/p95), and scores every test photo
against the catalogue (image-level R@1/R@5 and mAP over the whole gallery, product-level R@1).
The baseline in the same run is the plain PyTorch eager pipeline for a single query.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from productlens import Catalog, settings
from productlens.catalog.datasets import grocery_store_rows, write_grocery_csv
from productlens.catalog.ingest import read_source
from productlens.engine.ingest import QUANTIZATION_IMAGES, quantization_sources
from productlens.evaluation.evaluate import search_latency
from productlens.evaluation.metrics import mean_average_precision, recall_at_k
from productlens.images import load_image
from productlens.models.registry import get_spec
from productlens.models.transforms import prepare
from productlens.pipeline import embed_sources

LATENCY_TARGET_MS = 15.0
INGEST_TARGETS = {"fp32": 120.0, "int8": 250.0}


def percentiles(times_ms: list[float]) -> tuple[float, float]:
    return float(np.percentile(times_ms, 50)), float(np.percentile(times_ms, 95))


def eager_query_latency(model: str, photos: list[Path]) -> tuple[float, float]:
    """Single-query latency of decode + prepare + torch eager forward (2 threads)."""
    import torch

    torch.set_num_threads(2)
    spec = get_spec(model)
    net = spec.build()
    times = []
    with torch.no_grad():
        for i, photo in enumerate(photos):
            started = time.perf_counter()
            x = prepare(load_image(photo, draft_size=spec.preprocess.resize_size).image, spec.preprocess)
            net(torch.from_numpy(x[None]))
            if i:  # first call warms up
                times.append((time.perf_counter() - started) * 1000)
    return percentiles(times)


def large_photo_decode_ms(photo: Path, draft_size: int) -> tuple[float, float]:
    """Decode time of a 12 MP JPEG (a grocery photo upscaled to 4000x3000) at full size vs draft."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.open(photo).convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC).save(buf, "JPEG", quality=92)
    data = buf.getvalue()
    timings = []
    for draft in (None, draft_size):
        load_image(data, draft_size=draft)
        started = time.perf_counter()
        for _ in range(5):
            load_image(data, draft_size=draft)
        timings.append((time.perf_counter() - started) / 5 * 1000)
    return timings[0], timings[1]


def retrieval(shop: Catalog, queries: list, gallery_labels: dict[int, str]) -> dict[str, float]:
    """Image-level R@1/R@5/mAP over the full gallery, and product-level R@1."""
    live = shop.index.live()
    counts: dict[str, int] = {}
    for label in gallery_labels.values():
        counts[label] = counts.get(label, 0) + 1
    results = list(embed_sources(shop.embedder(), queries, source_of=lambda row: row[1]))
    labels = [cls.name for cls, _, _ in queries]
    ranked_images, ranked_products = [], []
    for r in results:
        hits = live.search(r.vector[None, :], len(live))
        ranked_images.append([gallery_labels[i] for i in hits.ids[0].tolist() if i >= 0])
        ranked_products.append([h.product.id for h in shop.searcher.vector(r.vector, k=1)])
    return {
        "R@1": recall_at_k(ranked_images, labels, 1),
        "R@5": recall_at_k(ranked_images, labels, 5),
        "mAP": mean_average_precision(ranked_images, labels, [counts[q] for q in labels]),
        "product R@1": recall_at_k(ranked_products, labels, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(str(settings.get("grocery_root"))))
    parser.add_argument("--model", default="efficientnet-lite0")
    parser.add_argument("--queries", type=int, default=200, help="test photos timed one at a time")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "int8"])
    parser.add_argument("--workdir", type=Path, default=None, help="keep catalogues here (default: temp)")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="productlens-bench-"))
    csv = workdir / "train.csv"
    write_grocery_csv(args.root, "train", csv)
    queries = list(grocery_store_rows(args.root, "test"))
    step = max(1, len(queries) // args.queries)
    timed = [row[1] for row in queries[::step][: args.queries]]

    rows = []
    full, drafted = large_photo_decode_ms(timed[0], get_spec(args.model).preprocess.resize_size)
    rows.append(("load_image", "12 MP JPEG decode (+hash, orient)", f"full {full:5.1f} ms  draft {drafted:5.1f} ms", ""))
    eager = eager_query_latency(args.model, timed[: min(60, len(timed))])
    rows.append(("torch eager (baseline)", "query latency", f"p50 {eager[0]:5.1f} ms  p95 {eager[1]:5.1f} ms", ""))
    for precision in args.precisions:
        path = workdir / f"shop-{precision}"
        with Catalog.open(path, create=True, model=args.model, precision=precision) as shop:
            if precision == "int8" and shop.versions.active is None:  # time calibration apart from ingest
                started = time.perf_counter()
                shop.embedder(quantization_images=quantization_sources(list(read_source(csv))))
                rows.append(("ORT int8", "INT8 calibration (once per catalogue)",
                             f"{time.perf_counter() - started:6.1f} s on {QUANTIZATION_IMAGES} catalogue photos", ""))
            report = shop.add(csv)
            rate = report.added / report.seconds if report.added else float("nan")
            rows.append((f"ORT {precision}", "catalogue build (Catalog.add)",
                         f"{rate:6.1f} img/s ({report.added} new images, {report.seconds:.1f} s)",
                         f">= {INGEST_TARGETS[precision]:.0f} img/s {'PASS' if rate >= INGEST_TARGETS[precision] else 'MISS'}"
                         if report.added else "(already built)"))
            latency = search_latency(shop, timed)
            p50, p95 = latency["p50"], latency["p95"]
            rows.append((f"ORT {precision}", "Catalog.search latency, k=10", f"p50 {p50:5.1f} ms  p95 {p95:5.1f} ms",
                         f"p50 <= {LATENCY_TARGET_MS:.0f} ms {'PASS' if p50 <= LATENCY_TARGET_MS else 'MISS'}"))
            gallery = {im.id: im.product_id for im in shop.store.get_images()}
            scores = retrieval(shop, queries, gallery)
            rows.append((f"ORT {precision}", "retrieval test->train (2485 q)",
                         "  ".join(f"{k} {v:.3f}" for k, v in scores.items()), ""))

    print(f"\nGrocery Store, {args.model}, {len(timed)} timed queries, catalogue = train split (2640 photos)\n")
    width = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, width)))


if __name__ == "__main__":
    main()
