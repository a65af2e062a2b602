"""Where does end-to-end per-box top-1 get lost? One run on bench_detection.py's composites.

    nice -n 10 python benchmarks/bench_detection_decompose.py --catalog /tmp/r20/shop [--composites 100]

For every true box of the Grocery-test composites (the same seeded ones bench_detection.py makes):
  a. the whole, uncomposited test photo searched against the catalogue (the recognition ceiling);
  b. the true box's crop of the composite (oracle boxes), with each crop treatment: tight (what
     the engine embeds), 10% context around it, grown to a square from the photo (so the
     embedder's centre crop cuts nothing away), or letterboxed onto a grey square;
  c. the detection matching the true box at IoU >= 0.5 (as eval-detector scores it), with each
     crop treatment, plus how many true boxes no detection matches.
Top-1 is the share of true boxes whose first search result is their product; the catalogue's
active model does the search (off-the-shelf, or a version `productlens train` made).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from productlens import Catalog  # noqa: E402
from productlens.detection.metrics import match  # noqa: E402


def bench_detection():
    spec = importlib.util.spec_from_file_location("bench_detection", ROOT / "benchmarks" / "bench_detection.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tight(picture: Image.Image, box) -> Image.Image:
    """The box's pixels, as the engine crops them."""
    return picture.crop(tuple(round(v) for v in box))


def grow(box, fx, fy, picture):
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    return (max(0, x0 - fx * w), max(0, y0 - fy * h), min(picture.width, x1 + fx * w), min(picture.height, y1 + fy * h))


def pad10(picture, box):
    return tight(picture, grow(box, 0.1, 0.1, picture))


def squared(picture, box):
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    s = max(w, h)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return tight(picture, (max(0, cx - s / 2), max(0, cy - s / 2), min(picture.width, cx + s / 2), min(picture.height, cy + s / 2)))


def letterboxed(picture, box):
    crop = tight(picture, box)
    s = max(crop.size)
    canvas = Image.new("RGB", (s, s), (124, 116, 104))
    canvas.paste(crop, ((s - crop.width) // 2, (s - crop.height) // 2))
    return canvas


TREATMENTS = {
    "tight crop (the engine's)": tight,
    "pad 10%": pad10,
    "square context": squared,
    "letterbox": letterboxed,
}


def top1(catalog: Catalog, crops: list[Image.Image]) -> list[str | None]:
    embedder = catalog.detection.active.embedder()
    out: list[str | None] = []
    for start in range(0, len(crops), 32):
        for vector in np.asarray(embedder.embed(crops[start : start + 32])):
            hits = catalog.detection.searcher.vector(vector, k=1, model_key=embedder.key)
            out.append(hits[0].product.id if hits else None)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", type=Path, required=True, help="the catalogue bench_detection.py built (--catalog)")
    parser.add_argument("--composites", type=int, default=100)
    parser.add_argument("--photo-scale", type=float, default=None, help="composite size (bench_detection.PHOTO_SCALE)")
    args = parser.parse_args()
    catalog = Catalog.open(args.catalog)
    detector = catalog.detection.detector()
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        bench = bench_detection()
        boxes_file = bench.test_composites(folder, args.composites, args.photo_scale or bench.PHOTO_SCALE)
        entries = json.loads(boxes_file.read_text())["images"]
        truth, sources, oracle, matched = [], [], {t: [] for t in TREATMENTS}, {t: [] for t in TREATMENTS}
        matched_truth, missed, heights = [], 0, []
        for entry in entries:
            picture = Image.open(folder / entry["file"]).convert("RGB")
            gt = np.array([b["box"] for b in entry["boxes"]], dtype=np.float64).reshape(-1, 4)
            found = detector.detect(picture, max_detections=20, min_score=None)
            pred = np.array([d.box for d in found], dtype=np.float64).reshape(-1, 4)
            _, truth_to_pred = match(pred, np.array([d.score for d in found]), gt, 0.5)
            for i, b in enumerate(entry["boxes"]):
                truth.append(b["product"])
                sources.append(b["source"])
                heights.append(b["box"][3] - b["box"][1])
                for name, treat in TREATMENTS.items():
                    oracle[name].append(treat(picture, b["box"]))
                j = int(truth_to_pred[i])
                if j < 0:
                    missed += 1
                    continue
                matched_truth.append(len(truth) - 1)
                for name, treat in TREATMENTS.items():
                    matched[name].append(treat(picture, tuple(pred[j])))
    n = len(truth)

    def share(predicted: list[str | None], indices: list[int]) -> float:
        return sum(p == truth[i] for p, i in zip(predicted, indices)) / n

    whole = [Image.open(s).convert("RGB") for s in sources]
    rows = [("a. whole uncomposited test photo (ceiling)", share(top1(catalog, whole), list(range(n))))]
    for name in TREATMENTS:
        rows.append((f"b. oracle (true) boxes, {name}", share(top1(catalog, oracle[name]), list(range(n)))))
    for name in TREATMENTS:
        rows.append((f"c. detected boxes (IoU>=0.5), {name}", share(top1(catalog, matched[name]), matched_truth)))
    catalog_model = catalog.detection.active.embedder().key
    catalog.close()
    print(f"model {catalog_model}; {n} true boxes in {len(entries)} composites; box height px median {statistics.median(heights):.0f} "
          f"(min {min(heights):.0f}, max {max(heights):.0f}); no detection at IoU>=0.5: {missed} ({missed / n:.3f})")
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value:.3f}")
    print("load average", " ".join(Path("/proc/loadavg").read_text().split()[:3]))


if __name__ == "__main__":
    main()
