"""Build a catalogue from the Grocery Store data, then search it with shoppers' photos.

    python examples/grocery_demo.py [--root ../shared/datasets/grocery-store] [--catalog demo-catalog]

What it does, through the public API (the CLI commands doing the same are in the README):
  1. writes products CSVs for the train split (+ catalogue "iconic" images) and the val split;
  2. adds the train CSV to the catalogue (re-running skips what is already there);
  3. calibrates the "unknown" threshold on the val photos;
  4. searches a few test photos and prints the top 5 with scores, marking the true product;
  5. shows a filtered search, a query box, and recognition of a product the shop lacks.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from productlens import Catalog, settings
from productlens.catalog.datasets import grocery_store_rows, write_grocery_csv
from productlens.catalog.ingest import read_source


def show_hits(title: str, hits, truth: str | None = None) -> None:
    print(f"\n{title}")
    for h in hits:
        mark = "  <- true product" if h.product.id == truth else ""
        print(f"  {h.rank}. {h.score:.3f}  {h.product.title} [{h.product.category}]{mark}")
    if truth is not None:
        found = truth in [h.product.id for h in hits]
        print(f"  true product {'IS' if found else 'is NOT'} in the top {len(hits)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(str(settings.get("grocery_root"))))
    parser.add_argument("--catalog", type=Path, default=Path("demo-catalog"))
    parser.add_argument("--queries", type=int, default=5)
    args = parser.parse_args()

    args.catalog.mkdir(parents=True, exist_ok=True)
    train_csv, val_csv = args.catalog / "grocery-train.csv", args.catalog / "grocery-val.csv"
    write_grocery_csv(args.root, "train", train_csv, iconic=True)
    write_grocery_csv(args.root, "val", val_csv)

    with Catalog.open(args.catalog, create=True) as shop:
        report = shop.add(train_csv)
        print(f"catalogue {args.catalog}: +{report.added} images ({report.duplicates} already there, "
              f"{len(report.skipped)} skipped) in {report.seconds:.1f} s")
        info = shop.info()
        print(f"{info['products']} products, {info['images']} images, model {info['model_key']}")
        cal = shop.calibrate(photos=read_source(val_csv))
        print(f"recognition threshold {cal.threshold:.3f} (calibrated on {cal.known_queries} val photos)")

        tests = list(grocery_store_rows(args.root, "test"))
        random.Random(7).shuffle(tests)
        in_top5 = 0
        for cls, photo, _ in tests[: args.queries]:
            hits = shop.search(photo, k=5)
            in_top5 += cls.name in [h.product.id for h in hits]
            show_hits(f"query {photo.name} (shows: {cls.title})", hits, truth=cls.name)
        print(f"\ntrue product in the top 5 for {in_top5} of {args.queries} queries")

        cls, photo, _ = next(t for t in tests if t[0].coarse_name == "Milk")
        show_hits(f"filtered: {photo.name} with --where \"category = 'Milk'\"",
                  shop.search(photo, k=3, where="category = 'Milk'"), truth=cls.name)
        show_hits(f"query box (centre half of {photo.name})",
                  shop.search(photo, k=3, box=(0.25, 0.25, 0.75, 0.75)), truth=cls.name)
        rec = shop.recognize(photo)
        verdict = rec.product.title if rec.product else "unknown"
        print(f"\nrecognize {photo.name}: {verdict} (confidence {rec.confidence:.2f}, category {rec.category})")


if __name__ == "__main__":
    main()
