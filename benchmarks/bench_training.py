"""Train on the shop's own catalogue and reproduce the targets table of issue #3 in one command.

    python benchmarks/bench_training.py [--workdir DIR] [--cnn-epochs 10] [--full-subset 200]
    python benchmarks/bench_training.py --backbone efficientnet-lite2@320 --tta   # the accurate setting

Grocery Store: the train split plus each product's iconic image is the catalogue, val selects
the epoch and the recognition mode/threshold, test is reported. Steps, all through the real code
paths: `Catalog.add` -> `training.train` (head recipe; the feature cache starts empty, so the
time includes feature extraction) -> `models use` (re-embed) -> `evaluate` with the baselines
measured in the same run (colour histogram, off-the-shelf features, the seeds' small CNN) ->
report.html. Optionally the `full` recipe for one epoch on a subset (CPU: a smoke measurement).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from productlens import Catalog, settings
from productlens.catalog.datasets import write_grocery_csv
from productlens.catalog.ingest import read_source
from productlens.evaluation.evaluate import evaluate
from productlens.evaluation.report import write_report
from productlens.training import TrainConfig, train

TARGETS = [  # (label, method key, metric, target)
    ("fine-grained accuracy", "fine_top1", 0.88),
    ("coarse accuracy", "coarse_top1", 0.93),
    ("retrieval R@1", "R@1", 0.85),
    ("retrieval mAP", "mAP", 0.65),
    ("photo -> iconic top-1", "iconic_top1", 0.60),
]
HEAD_MINUTES = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path(str(settings.get("grocery_root"))))
    parser.add_argument("--workdir", type=Path, help="Keep the catalogue and report here (default: a temp dir).")
    parser.add_argument("--cnn-epochs", type=int, default=10)
    parser.add_argument("--backbone", help="Train on this network (NAME or NAME@SIZE; default: the catalogue's lite0).")
    parser.add_argument("--crop", type=float, default=TrainConfig.crop,
                        help="Centre-crop fraction of the trained version (0.875 = the backbone's own).")
    parser.add_argument("--tta", action="store_true", help="Train a version that also embeds mirror images (train --tta).")
    parser.add_argument("--baselines", default="colour-histogram,off-the-shelf,small-cnn",
                        help="Comma-separated baselines measured in the same run (empty for none).")
    parser.add_argument("--full-subset", type=int, default=0, help="Also run the full recipe 1 epoch on N images.")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-training-"))
    work.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val", "test"):
        write_grocery_csv(args.root, split, work / f"{split}.csv", iconic=split == "train")
    shop = work / "shop"
    timings = {}
    with Catalog.open(shop, create=True) as catalog:
        t = time.perf_counter()
        catalog.add(work / "train.csv")
        timings["add (off-the-shelf embed)"] = time.perf_counter() - t
        t = time.perf_counter()
        config = TrainConfig(backbone=args.backbone, crop=args.crop, flip_tta=args.tta)
        result = train(catalog, config, val_items=list(read_source(work / "val.csv")), progress=print)
        timings["train head recipe"] = time.perf_counter() - t
        t = time.perf_counter()
        catalog.activate_model(result.version)
        timings["models use (re-embed)"] = time.perf_counter() - t
        t = time.perf_counter()
        baselines = tuple(b for b in args.baselines.split(",") if b)
        evaluation = evaluate(catalog, list(read_source(work / "test.csv")), baselines=baselines,
                              catalog_image_pattern="_Iconic", cnn_epochs=args.cnn_epochs, progress=print)
        timings["eval with baselines"] = time.perf_counter() - t
        write_report(evaluation, work / "report", curves=shop / "models" / result.version.split("/")[1] / "curves.png")
        if args.full_subset:
            t = time.perf_counter()
            full = train(catalog, TrainConfig(recipe="full", epochs=1, max_images=args.full_subset, batch_size=16),
                         val_items=list(read_source(work / "val.csv")), progress=print)
            timings[f"full recipe, 1 epoch on {args.full_subset} images"] = time.perf_counter() - t
            timings["full recipe val top-1"] = full.metrics.get("val_cls_acc", float("nan"))
    methods = evaluation.metrics["methods"]
    main_name = next(iter(methods))
    print(f"\nGrocery Store test split: {evaluation.metrics['queries']} photos vs {evaluation.metrics['gallery_images']} "
          f"catalogue images ({evaluation.metrics['catalog_images_for_matching']} iconic); version {result.version}")
    names = list(methods)
    print(f"{'metric':26s}{'target':>8s}" + "".join(f"{n[:22]:>24s}" for n in names) + "   verdict")
    for label, key, target in TARGETS:
        values = [methods[n].get(key, float("nan")) for n in names]
        verdict = "met" if values[0] >= target else f"missed by {target - values[0]:.3f}"
        print(f"{label:26s}{target:8.2f}" + "".join(f"{v:24.3f}" for v in values) + f"   {verdict}")
    for key in ("mAP@R", "R@5", "R@10", "fine_top5", "iconic_top5"):
        print(f"{key:26s}{'':8s}" + "".join(f"{methods[n].get(key, float('nan')):24.3f}" for n in names))
    head_min = timings["train head recipe"] / 60
    print(f"{'head recipe minutes':26s}{HEAD_MINUTES:8.1f}{head_min:24.2f}   "
          f"{'met' if head_min <= HEAD_MINUTES else f'missed by {head_min - HEAD_MINUTES:.2f}'}")
    print(f"\nvalidation (selection): {json.dumps({k: result.metrics.get(k) for k in ('val_r1_untrained', 'val_r1', 'val_cls_acc', 'epochs_run', 'recognition_mode')})}")
    print("latency (end-to-end search, ms):", evaluation.metrics["latency_ms"])
    for name, seconds in timings.items():
        print(f"  {name}: {seconds:.1f}" + (" s" if "top-1" not in name else ""))
    print(f"report: {work / 'report' / 'report.html'}")


if __name__ == "__main__":
    main()
