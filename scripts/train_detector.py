"""Train the default product detector (shelf-lite0) reproducibly and write the file the package ships.

    nice -n 10 python scripts/train_detector.py                      # the shipped recipe
    python scripts/train_detector.py --epochs 2 --composites 100     # a quick smoke run

Data: freiburg-boxes (real shelf photos, research use only: its images are never copied into the
project, only the trained weights are) split 85/15 by a seeded shuffle of photo files (seed 20,
the validation files are listed in the output JSON), plus synthetic composites of Grocery Store
(MIT) training photos and iconic images on drawn shelves. Recipe: EfficientNet-Lite0 (ImageNet)
frozen up to block 14, its features cached once; block 15 + FPN + centre head trained on the cache
(photos and their mirror images, plus mirrored feature maps); exported to ONNX, scores Platt-calibrated on the held-out
photos, INT8 kept when it loses under a point of AP50 and recall. Writes
src/productlens/detection/weights/shelf-lite0.onnx and a figures JSON for docs/detector-card.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from productlens.catalog.datasets import grocery_store_rows  # noqa: E402
from productlens.detection.annotations import read_annotations  # noqa: E402
from productlens.detection.composites import compose, trim_white  # noqa: E402
from productlens.detection.export import evaluate_file  # noqa: E402
from productlens.detection.train import split_held_out, train_detector_file  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
from detector_card import write_card  # noqa: E402

SHARED = ROOT.parent / "shared" / "datasets"
SPLIT_SEED = 20
VAL_FRACTION = 0.15
log = logging.getLogger("train_detector")


def freiburg_split(boxes_json: Path) -> tuple[list, list]:
    """(train, validation) photos of freiburg-boxes: a seeded shuffle of the files, 15% held out."""
    return split_held_out(sorted(read_annotations(boxes_json), key=lambda p: p.path.name), VAL_FRACTION, SPLIT_SEED)


def grocery_pictures(root: Path, split: str, limit: int, rng: np.random.Generator) -> list[Image.Image]:
    """Up to `limit` photos of a Grocery split plus every iconic image (white margins trimmed)."""
    rows = list(grocery_store_rows(root, split, iconic=True))
    photos = [r for r in rows if r[2] == "photo"]
    iconic = [r for r in rows if r[2] == "iconic"]
    chosen = [photos[i] for i in rng.permutation(len(photos))[:limit]] + iconic
    out = []
    for _, path, kind in chosen:
        with Image.open(path) as im:
            im = im.convert("RGB")
            im.thumbnail((192, 192))
            out.append(trim_white(im) if kind == "iconic" else im)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=16, help="at most this many epochs")
    parser.add_argument("--train-minutes", type=float, default=30.0,
                        help="the epochs that fit in this many minutes (measured on the first) are trained, 0: all")
    parser.add_argument("--composites", type=int, default=1200, help="synthetic shelf photos to train on")
    parser.add_argument("--threads", type=int, default=1, help="torch/ONNX Runtime threads (1 was fastest on 2 busy cores)")
    parser.add_argument("--limit", type=int, default=None, help="use only this many photos of each freiburg part (smoke runs)")
    parser.add_argument("--out", type=Path, default=ROOT / "src/productlens/detection/weights/shelf-lite0.onnx")
    parser.add_argument("--figures", type=Path, default=ROOT / "docs/detector-card.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("root").setLevel(logging.INFO)
    logging.getLogger("onnxruntime").setLevel(logging.WARNING)
    import torch

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    train, val = freiburg_split(SHARED / "freiburg-boxes/boxes.json")
    train, val = train[: args.limit], val[: args.limit]
    log.info("freiburg: %d train, %d validation photos", len(train), len(val))
    images = [Image.open(p.path).convert("RGB") for p in train]
    boxes = [np.asarray(p.boxes) for p in train]
    pictures = grocery_pictures(SHARED / "grocery-store", "train", min(1200, args.limit or 1200), rng)
    composites = []
    for _ in range(args.composites):
        w, h = int(rng.integers(240, 400)), int(rng.integers(240, 400))
        composites.append(compose(pictures, rng, size=(w, h)))
    composites = [c for c in composites if c.boxes]
    log.info("%d composites from %d pictures", len(composites), len(pictures))
    val_images = [Image.open(p.path).convert("RGB") for p in val]
    val_boxes = [np.asarray(p.boxes) for p in val]
    trained_on = {"freiburg_train": len(train), "freiburg_val": len(val), "composites": len(composites),
                  "split_seed": SPLIT_SEED}
    loaded_at = time.perf_counter()
    result = train_detector_file((images, boxes), ([c.image for c in composites], [np.asarray(c.boxes) for c in composites]),
                                 (val_images, val_boxes), args.out, epochs=args.epochs,
                                 time_limit_s=args.train_minutes * 60 or None, threads=args.threads, trained_on=trained_on)
    total = time.perf_counter() - started
    figures = {
        **result, "trained_on": trained_on, "epochs": args.epochs,
        "seconds": {**result["seconds"], "total": round(total), "train": round(result["seconds"]["train"]),
                    "data_and_cache": round(loaded_at - started + result["seconds"]["network"] + result["seconds"]["cache_features"])},
        "threads": args.threads,
        "loadavg_end": Path("/proc/loadavg").read_text().split()[:3],
        "validation_files": sorted(p.path.name for p in val),
    }
    args.figures.write_text(json.dumps(figures, indent=1) + "\n")
    write_card(figures, args.figures.with_suffix(".md"))
    final = evaluate_file(args.out, val_images, val_boxes)
    log.info("shipped %s (%s): recall@0.5 %.3f AP50 %.3f; %.0f s in all",
             args.out.name, result["precision"], final.recall, final.ap, total)


if __name__ == "__main__":
    main()
