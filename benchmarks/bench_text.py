"""Text search, hybrid queries and duplicate finding on the Grocery Store data.

    python benchmarks/bench_text.py [--work DIR] [--max-test 800] [--copies 200]

Catalogue: the train split (natural photos) plus each product's iconic image, with the title
(Information.txt, Swedish), description (English) and coarse category of classes.csv; built
once in --work and reused.

1. Text queries, one per product: its title, and a paraphrase (the English class name, e.g.
   "Arla Standard Milk"; product ids are not indexed). MRR and R@1 per mode: keyword (FTS5
   BM25, the baseline), semantic (MiniLM), text (both, RRF).
2. Text -> image bridge: in a copy of the catalogue, half of the products lose all their text
   (opaque SKU as id and title). Paraphrase queries for those products: MRR with the bridge
   (mode auto) vs without (mode text: they cannot be found at all); and the visible products'
   MRR with and without, to see what the bridge costs them.
3. Hybrid: test photos (up to --max-test, fixed seed) with the coarse category name as text.
   R@1 of photo-only (baseline) vs RRF vs score blending; blending's beta chosen on the val split.
4. Duplicates: thresholds calibrated on --copies synthetic copies of the clean catalogue, then
   200 known duplicates are injected (150 re-encoded / resized / cropped copies under the same
   product, 50 renamed SKUs holding one copy of an original image) and the finder's pairs are
   scored: precision and recall of image pairs and of product pairs at the calibrated thresholds.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from pathlib import Path

import numpy as np

from productlens import Catalog, settings
from productlens.catalog.datasets import grocery_classes, grocery_store_rows, write_grocery_csv
from productlens.catalog.ingest import title_from_name
from productlens.catalog.store import Product
from productlens.dedup.thresholds import COPY_KINDS, make_copy
from productlens.dedup.finder import image_pair_scores, product_pair_scores, text_vectors_of
from productlens.images import read_bytes
from productlens.pipeline import embed_sources
from productlens.text.search import POOL, TextSearch


def build(work: Path, root: Path) -> Path:
    path = work / "catalog"
    if (path / "catalog.db").exists():
        return path
    csv = work / "train_iconic.csv"
    write_grocery_csv(root, "train", csv, iconic=True)
    started = time.perf_counter()
    with Catalog.open(path, create=True) as catalog:
        report = catalog.add(csv)
    print(f"built catalogue: {report.added} images in {time.perf_counter() - started:.0f}s")
    return path


def rank_of(hits: list, product_id: str) -> int | None:
    for h in hits:
        if h.product.id == product_id:
            return h.rank
    return None


def rank_in(ids: list[str], product_id: str) -> int | None:
    return ids.index(product_id) + 1 if product_id in ids else None


def mrr_r1(ranks: list[int | None]) -> tuple[float, float]:
    rr = [1.0 / r if r else 0.0 for r in ranks]
    return float(np.mean(rr)), float(np.mean([r == 1 for r in ranks]))


def text_queries(catalog: Catalog, root: Path) -> dict:
    classes = grocery_classes(root)
    out = {}
    for kind, query_of in (("title", lambda c: c.title), ("paraphrase", lambda c: title_from_name(c.name))):
        for mode in ("keyword", "semantic", "text"):
            started = time.perf_counter()
            ranks = [rank_of(catalog.search_text(query_of(c), k=81, mode=mode), c.name) for c in classes]
            mrr, r1 = mrr_r1(ranks)
            ms = (time.perf_counter() - started) * 1000 / len(classes)
            out[f"{kind}/{mode}"] = {"MRR": round(mrr, 4), "R@1": round(r1, 4), "ms_per_query": round(ms, 2)}
            print(f"  text {kind:10s} {mode:8s}  MRR {mrr:.3f}  R@1 {r1:.3f}  ({ms:.1f} ms/query)")
    return out


def fresh_copy(catalog: Path, dest: Path) -> Path:
    """A scratch copy of the catalogue at `dest`, replacing any left by an earlier run."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(catalog, dest)
    return dest


def bridge(path: Path, work: Path, root: Path, seed: int = 0) -> dict:
    copy = fresh_copy(path, work / "bridge")
    classes = grocery_classes(root)
    rng = random.Random(seed)
    hidden = set(rng.sample([c.name for c in classes], len(classes) // 2))
    sku = {name: f"sku-{i:04d}" for i, name in enumerate(sorted(hidden))}
    with Catalog.open(copy) as catalog:
        store = catalog.store
        store.upsert_products([Product(s, s) for s in sku.values()])
        with store.transaction() as db:
            for name, s in sku.items():
                db.execute("UPDATE images SET product_id = ? WHERE product_id = ?", (s, name))
        store.delete_products(list(sku))
        out = {}
        for mode in ("text", "auto"):
            ranks_hidden = [rank_of(catalog.search_text(title_from_name(c.name), k=81, mode=mode), sku[c.name])
                            for c in classes if c.name in hidden]
            ranks_visible = [rank_of(catalog.search_text(title_from_name(c.name), k=81, mode=mode), c.name)
                             for c in classes if c.name not in hidden]
            (mh, rh), (mv, rv) = mrr_r1(ranks_hidden), mrr_r1(ranks_visible)
            label = "with bridge" if mode == "auto" else "no bridge (baseline)"
            out[label] = {"hidden_MRR": round(mh, 4), "hidden_R@1": round(rh, 4),
                          "visible_MRR": round(mv, 4), "visible_R@1": round(rv, 4)}
            print(f"  bridge {label:22s} products without text: MRR {mh:.3f} R@1 {rh:.3f} | "
                  f"with text: MRR {mv:.3f} R@1 {rv:.3f}")
        searcher = catalog.searcher.text_search()
        bridge_only = [rank_in([p for p, _ in searcher.rankings(title_from_name(c.name), pool=81)["bridge"]], sku[c.name])
                       for c in classes if c.name in hidden]
        state = searcher.state()
        chance = float(np.mean([1 / r for r in range(1, len(state.bridge_ids) + 1)]))
        out["bridge list alone"] = {"hidden_MRR": round(mrr_r1(bridge_only)[0], 4), "chance_MRR": round(chance, 4)}
        out["fitted_on"] = state.mapping.fitted_on
        print(f"  bridge list alone, among the {len(state.bridge_ids)} products without text: MRR {out['bridge list alone']['hidden_MRR']:.3f}"
              f" (chance {chance:.3f}); map fitted on {state.mapping.fitted_on} products")
    return out


def embed_split(catalog: Catalog, root: Path, split: str, limit: int | None, seed: int) -> list[tuple]:
    rows = [(cls, image) for cls, image, _ in grocery_store_rows(root, split)]
    if limit and len(rows) > limit:
        rows = random.Random(seed).sample(rows, limit)
    return [(r.item[0], r.vector) for r in embed_sources(catalog.embedder(), rows, source_of=lambda it: it[1])
            if r.vector is not None]


def hybrid(catalog: Catalog, root: Path, max_test: int) -> dict:
    searcher: TextSearch = catalog.searcher.text_search()

    def r1(queries, fusion, beta=0.1) -> float:
        hits = []
        for cls, vector in queries:
            if fusion == "photo":
                top = catalog.searcher.vector(vector, k=1)[0].product.id
            else:
                photo = [(h.product.id, h.score, h.image_id) for h in catalog.searcher.vector(vector, k=POOL)]
                top = searcher.fuse(photo, cls.coarse_name, 1, None, fusion=fusion, beta=beta)[0][0]
            hits.append(top == cls.name)
        return float(np.mean(hits))

    val = embed_split(catalog, root, "val", None, 0)
    betas = [0.02, 0.05, 0.1, 0.2, 0.4]
    val_r1 = {b: r1(val, "blend", b) for b in betas}
    beta = max(betas, key=lambda b: (val_r1[b], -b))
    print(f"  blend beta on val ({len(val)} photos): " + ", ".join(f"{b}: {v:.3f}" for b, v in val_r1.items()) + f" -> {beta}")
    test = embed_split(catalog, root, "test", max_test, 0)
    out = {"test_photos": len(test), "beta": beta, "val_R@1_by_beta": val_r1}
    for name, fusion in (("photo-only (baseline)", "photo"), ("hybrid rrf", "rrf"), ("hybrid blend", "blend")):
        started = time.perf_counter()
        out[name] = round(r1(test, fusion, beta), 4)
        ms = (time.perf_counter() - started) * 1000 / len(test)
        print(f"  hybrid {name:22s} R@1 {out[name]:.3f} on {len(test)} test photos ({ms:.1f} ms/query excl. embedding)")
    return out


def duplicates(path: Path, work: Path, copies: int, seed: int = 1) -> dict:
    dup = fresh_copy(path, work / "dups")
    files = work / "dup-files"
    shutil.rmtree(files, ignore_errors=True)
    files.mkdir()
    rng = np.random.default_rng(seed)
    with Catalog.open(dup) as catalog:
        started = time.perf_counter()
        cal = catalog.dedup.fit_thresholds(n=copies, seed=seed + 100)
        print(f"  calibrated on {cal.pairs} copies in {time.perf_counter() - started:.0f}s: "
              f"image >= {cal.image_threshold:.4f} (P {cal.image_precision:.3f} R {cal.image_recall:.3f}), "
              f"product >= {cal.product_threshold:.4f} (P {cal.product_precision:.3f} R {cal.product_recall:.3f})")
        before = image_pair_scores(catalog, cal.image_threshold)
        images = catalog.store.get_images()
        picked = rng.choice(len(images), 200, replace=False)
        truth_images, truth_products = set(), set()
        for n, i in enumerate(picked.tolist()):
            original = images[i]
            data = make_copy(read_bytes(original.source), COPY_KINDS[n % len(COPY_KINDS)], rng)
            target = original.product_id
            if n >= 150:  # a renamed SKU: same title, no description, one copied photo
                src = catalog.get_product(original.product_id)
                target = f"dup-{n:03d}"
                catalog.upsert_product(Product(target, src.title, src.category))
                truth_products.add(tuple(sorted((target, original.product_id))))
            file = files / f"copy-{n:03d}.jpg"
            file.write_bytes(data)
            new_id = catalog.add_image(target, file, source=str(file))
            truth_images.add((min(original.id, new_id), max(original.id, new_id)))
        started = time.perf_counter()
        report = catalog.duplicates()
        took = time.perf_counter() - started
        pairs = image_pair_scores(catalog, cal.image_threshold)
        found_images = {p for p, s in pairs.items() if s >= report.image_threshold}
        evidence = product_pair_scores(catalog, image_pair_scores(catalog, 0.5), text_vectors_of(catalog))
        found_products = {p for p, e in evidence.items() if e["score"] >= report.product_threshold}
        pre_existing = {p for p in found_images if p in before}
        owner = catalog.store.image_products([i for pair in found_images | truth_images for i in pair])
    out = {"calibration": cal.to_dict(), "seconds_find": round(took, 2)}
    for name, found, truth in (("image pairs", found_images, truth_images), ("product pairs", found_products, truth_products)):
        tp = len(found & truth)
        precision, recall = tp / max(len(found), 1), tp / len(truth)
        out[name] = {"found": len(found), "true": len(truth), "tp": tp, "precision": round(precision, 4), "recall": round(recall, 4)}
        print(f"  duplicates {name:13s}: {len(found)} flagged, {tp}/{len(truth)} injected found -> "
              f"precision {precision:.3f}, recall {recall:.3f}")
    out["image pairs"]["flagged_among_original_photos"] = len(pre_existing)
    # The same photo under two SKUs: only pairs joining two products (50 injected ones).
    found_x = {p for p in found_images if owner[p[0]] != owner[p[1]]}
    truth_x = {p for p in truth_images if owner[p[0]] != owner[p[1]]}
    tp = len(found_x & truth_x)
    out["cross-product image pairs"] = {"found": len(found_x), "true": len(truth_x), "tp": tp,
                                        "precision": round(tp / max(len(found_x), 1), 4), "recall": round(tp / len(truth_x), 4)}
    print(f"  duplicates image pairs joining two products: {len(found_x)} flagged, {tp}/{len(truth_x)} injected found -> "
          f"precision {out['cross-product image pairs']['precision']:.3f}, recall {out['cross-product image pairs']['recall']:.3f}")
    print(f"  ({len(pre_existing)} flagged image pairs are between original dataset photos, counted as false positives;"
          f" finder took {took:.1f}s)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path(str(settings.get("grocery_root"))))
    parser.add_argument("--work", type=Path, default=Path("/tmp/productlens-bench-text"))
    parser.add_argument("--max-test", type=int, default=800, help="test photos for the hybrid part (0 = all)")
    parser.add_argument("--copies", type=int, default=200, help="synthetic copies for duplicate calibration")
    parser.add_argument("--parts", nargs="+", default=["text", "bridge", "hybrid", "duplicates"])
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    path = build(args.work, args.root)
    results: dict = {}
    with Catalog.open(path) as catalog:
        started = time.perf_counter()
        catalog.searcher.text_search().state()
        print(f"text embeddings + state ready in {time.perf_counter() - started:.1f}s")
        if "text" in args.parts:
            results["text"] = text_queries(catalog, args.root)
        if "hybrid" in args.parts:
            results["hybrid"] = hybrid(catalog, args.root, args.max_test or None)
    if "bridge" in args.parts:
        results["bridge"] = bridge(path, args.work, args.root)
    if "duplicates" in args.parts:
        results["duplicates"] = duplicates(path, args.work, args.copies)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
