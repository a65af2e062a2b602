"""Detect-then-search against issue 20's targets, in one run on this machine.

    nice -n 10 python benchmarks/bench_detection.py [--per-class 6] [--composites 100] [--timed 30] [--catalog DIR]

1. Box recall @ IoU 0.5 (<= 20 detections a photo) and AP50 of the shipped detector on the
   held-out 15% of freiburg-boxes (the training script's seeded split).
2. End to end, per box: composites of Grocery *test* photos (drawn shelves, seeded) searched with
   `eval-detector` against a catalogue of Grocery *train* photos (`--per-class` photos of each of
   the 81 products plus its iconic image, efficientnet-lite0); a true box counts when a detection
   matches it (IoU >= 0.5) and that detection's first result is its product. Next to it, the same
   with each true box's own crop searched (recognition alone: the gap is what detection costs).
   The composites are the size the engine decodes a phone photo to (see `test_composites`).
   The search runs with the catalogue's active model: off-the-shelf when the benchmark builds the
   catalogue; to measure a shop that trained its model, build it once with `--catalog DIR`, run
   `productlens --catalog DIR train --use`, and run the benchmark again with the same `--catalog`.
3. `search_objects` p50 (decode + detect + search up to 10 boxes) on those composites, next to
   whole-photo `search` measured in the same run as the baseline.
4. Detector training time, from the figures the training script wrote (docs/detector-card.json).
Prints the table with the load average; figures are measured under whatever load the machine has.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from productlens import Catalog  # noqa: E402
from productlens.catalog.datasets import GROCERY_COLUMNS, grocery_store_rows  # noqa: E402
from productlens.detection.composites import compose  # noqa: E402
from productlens.detection.export import evaluate_file  # noqa: E402
from productlens.detection.onnx_detector import shipped_path  # noqa: E402

SHARED = ROOT.parent / "shared" / "datasets"
PHOTO_SCALE = 2.5  # composites the size of a decoded phone photo (see test_composites)


def training_script():
    spec = importlib.util.spec_from_file_location("train_detector", ROOT / "scripts" / "train_detector.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def grocery_catalogue(path: Path, per_class: int) -> Catalog:
    """A catalogue of `per_class` train photos of each Grocery product plus its iconic image."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = path.parent / "grocery-train.csv"
    seen: dict[str, int] = {}
    with open(table, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(GROCERY_COLUMNS)
        for cls, image, kind in grocery_store_rows(SHARED / "grocery-store", "train", iconic=True):
            if kind == "photo" and seen.get(cls.name, 0) >= per_class:
                continue
            seen[cls.name] = seen.get(cls.name, 0) + (kind == "photo")
            writer.writerow([cls.name, str(image), cls.title, cls.coarse_name, cls.description, cls.group, cls.fine_id, cls.coarse_id])
    catalog = Catalog.open(path, create=True, model="efficientnet-lite0")
    catalog.add(table)
    return catalog


def test_composites(folder: Path, count: int, photo_scale: float = PHOTO_SCALE) -> Path:
    """Shelf composites of Grocery test photos and a boxes.json naming each box's product (and
    the test photo pasted there, `source`).

    The canvas is `photo_scale` x (320-640 by 280-480) pixels: at 2.5 a photo the size the engine
    decodes a phone photo to (shorter side near DECODE_SIDE, 1024), so a product on a shelf of
    three gets the ~100-250 pixels a real photo gives it; the layout relative to the frame (shelf
    rows, product heights from a sixth of the frame to most of it) does not change with the scale.
    Test photos are pasted from their native 348 pixels (no thumbnail)."""
    rows = list(grocery_store_rows(SHARED / "grocery-store", "test"))
    rng = np.random.default_rng(2020)
    chosen = [rows[i] for i in rng.permutation(len(rows))[:600]]
    pictures, names, sources = [], [], []
    for cls, path, _ in chosen:
        with Image.open(path) as im:
            im = im.convert("RGB")
            pictures.append(im)
            names.append(cls.name)
            sources.append(str(path))
    entries = []
    for n in range(count):
        made = compose(pictures, rng, size=(round(photo_scale * rng.integers(320, 640)), round(photo_scale * rng.integers(280, 480))), max_products=6)
        file = folder / f"composite-{n:03d}.jpg"
        made.image.save(file, quality=90)
        entries.append({"file": file.name, "boxes": [{"box": list(b), "product": names[s], "source": sources[s]} for b, s in zip(made.boxes, made.sources)]})
    boxes = folder / "boxes.json"
    boxes.write_text(json.dumps({"images": entries}))
    return boxes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-class", type=int, default=6, help="Grocery train photos per product in the catalogue")
    parser.add_argument("--composites", type=int, default=100)
    parser.add_argument("--timed", type=int, default=30, help="photos timed for the p50")
    parser.add_argument("--catalog", type=Path, default=None,
                        help="keep the Grocery catalogue here and reuse it when it exists (default: a temporary one)")
    args = parser.parse_args()
    load_start = Path("/proc/loadavg").read_text().split()[:3]
    _, val = training_script().freiburg_split(SHARED / "freiburg-boxes" / "boxes.json")
    images = [Image.open(p.path).convert("RGB") for p in val]
    held_out = evaluate_file(shipped_path(), images, [np.asarray(p.boxes) for p in val])
    with tempfile.TemporaryDirectory() as work:
        work_path = Path(work)
        started = time.perf_counter()
        shop = args.catalog or work_path / "shop"
        catalog = Catalog.open(shop) if (shop / "catalog.db").exists() else grocery_catalogue(shop, args.per_class)
        built = time.perf_counter() - started
        (work_path / "composites").mkdir()
        boxes = test_composites(work_path / "composites", args.composites)
        report = catalog.detection.evaluate(boxes, work_path / "report")
        photos = sorted((work_path / "composites").glob("*.jpg"))[: args.timed]
        catalog.search_objects(photos[0], k=5, max_objects=10)  # warm: models loaded once
        objects_ms, whole_ms = [], []
        for photo in photos:
            t0 = time.perf_counter()
            catalog.search_objects(photo, k=5, max_objects=10)
            objects_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            catalog.search(photo, k=5)
            whole_ms.append((time.perf_counter() - t0) * 1000)
        model, counts = catalog.detection.active.embedder().key, catalog.counts()
        catalog.close()
    card = json.loads((ROOT / "docs" / "detector-card.json").read_text())
    load_end = Path("/proc/loadavg").read_text().split()[:3]
    rows = [
        ("box recall @ IoU 0.5, <= 20 det/photo, freiburg held-out", f"{held_out.recall:.3f}", ">= 0.90"),
        ("AP50, same photos (labels incomplete)", f"{held_out.ap:.3f}", ">= 0.80"),
        (f"end-to-end per-box top-1, {report.product_boxes} boxes in {report.photos} Grocery-test composites",
         f"{report.top1:.3f}", ">= 0.70"),
        ("  the same with the true boxes (recognition alone)", f"{report.true_box_top1:.3f}", ""),
        ("  (box recall on those composites)", f"{report.recall50:.3f}", ""),
        ("search --objects p50 (decode+detect+search <= 10 boxes)", f"{statistics.median(objects_ms):.0f} ms", "<= 120 ms"),
        ("  baseline: whole-photo search p50, same photos", f"{statistics.median(whole_ms):.0f} ms", ""),
        ("detector training (scripts/train_detector.py)", f"{card['seconds']['total'] / 60:.1f} min", "<= 60 min"),
    ]
    print(f"freiburg held-out: {len(val)} photos, {held_out.true_boxes} boxes; catalogue {shop}: {counts['products']} products, {counts['images']} images "
          f"(built or opened in {built:.0f} s); search model {model}")
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>10}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>10}  {target}")
    print(f"load average at start {' '.join(load_start)}, at end {' '.join(load_end)} (2 cores shared with other jobs); "
          f"training load at its end: {' '.join(card.get('loadavg_end', []))}")


if __name__ == "__main__":
    main()
