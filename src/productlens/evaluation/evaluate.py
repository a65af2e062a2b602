"""`evaluate`: labelled query photos against the catalogue, for the active model and baselines.

Gallery = the catalogue's images (embeddings of the active model, as search uses them).
Retrieval is image-level (R@k, mAP, mAP@R); fine accuracy is the recogniser's product ranking
(a trained version's classifier / kNN / blend as chosen on validation, else nearest product);
coarse accuracy uses the trained version's category mode (also chosen on validation) or the best
product per category. Catalogue-image matching restricts the gallery to images whose source
matches `catalog_image_pattern` (the Grocery iconic images) and reports it separately.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..catalog.ingest import IngestItem
from ..errors import TrainingError
from ..images import content_hash, read_bytes
from . import scoring

log = logging.getLogger(__name__)

BASELINES = ("colour-histogram", "off-the-shelf", "small-cnn")


@dataclass
class EvalResult:
    metrics: dict[str, Any]  # JSON-friendly: per method, plus run info
    classes: list[str]
    categories: list[str]
    details: dict[str, Any] = field(default_factory=dict)  # arrays for the report (main model)


def evaluate(
    catalog,
    queries: Sequence[IngestItem],
    *,
    baselines: Sequence[str] = BASELINES,
    catalog_image_pattern: str | None = "_Iconic",
    cnn_epochs: int = 10,
    latency_samples: int = 30,
    progress: Callable[[str], None] | None = None,
) -> EvalResult:
    from ..pipeline import embed_sources

    say = progress or (lambda _m: None)
    model = catalog.active_model
    if model is None:
        raise TrainingError("the catalogue has no embeddings yet: add images before evaluating")
    images = {im.id: im for im in catalog.store.get_images()}
    g_ids_arr, gallery = catalog.store.embeddings(model.key)
    if not len(g_ids_arr):
        raise TrainingError(f"no embeddings for the active model {model.key}")
    g_products = [images[int(i)].product_id for i in g_ids_arr]
    classes = sorted(set(g_products))
    cindex = {p: i for i, p in enumerate(classes)}
    products = {p.id: p for p in catalog.store.get_products(classes)}
    categories = sorted({products[p].category for p in classes if products[p].category})
    kindex = {c: i for i, c in enumerate(categories)}
    class_cat = np.array([kindex.get(products[p].category, -1) for p in classes])
    g_labels = np.array([cindex[p] for p in g_products])
    g_sources = [images[int(i)].source for i in g_ids_arr]

    usable = [q for q in queries if q.image is not None and q.product.id in cindex]
    skipped = len(queries) - len(usable)
    if not usable:
        raise TrainingError("none of the queries names a product that has images in the catalogue")
    say(f"embedding {len(usable)} queries with {model.key}")
    embedder = catalog.embedder()
    started = time.perf_counter()
    q_vecs, q_items = [], []
    for r in embed_sources(embedder, usable, source_of=lambda it: it.image):
        if r.vector is not None:
            q_vecs.append(r.vector)
            q_items.append(r.item)
    embed_seconds = time.perf_counter() - started
    queries_ok = q_items
    q = np.stack(q_vecs)
    q_labels = np.array([cindex[it.product.id] for it in queries_ok])
    q_cat = class_cat[q_labels]
    iconic = np.array([bool(catalog_image_pattern and s and catalog_image_pattern in s) for s in g_sources])

    def method(name: str, q_emb: np.ndarray, g_emb: np.ndarray, fine: np.ndarray | None = None,
               coarse: np.ndarray | None = None, keep: dict | None = None) -> dict[str, Any]:
        sims = q_emb @ g_emb.T
        out = scoring.retrieval(sims, q_labels, g_labels)
        class_sc = scoring.class_scores_from_sims(sims, g_labels, len(classes))
        fine_sc = class_sc if fine is None else fine
        out.update(scoring.classification(fine_sc, q_labels, len(classes), "fine"))
        if categories:
            if coarse is None:
                coarse = np.full((len(q_emb), len(categories)), -np.inf)
                for c in range(len(categories)):
                    members = class_cat == c
                    if members.any():
                        coarse[:, c] = fine_sc[:, members].max(axis=1)
            known = q_cat >= 0
            out.update(scoring.classification(coarse[known], q_cat[known], len(categories), "coarse"))
        if iconic.any():
            ic = scoring.class_scores_from_sims(sims[:, iconic], g_labels[iconic], len(classes))
            have = np.isin(q_labels, g_labels[iconic])
            ranked = np.argsort(-ic[have], axis=1)
            out["iconic_top1"] = float((ranked[:, 0] == q_labels[have]).mean())
            out["iconic_top5"] = float((ranked[:, :5] == q_labels[have][:, None]).any(axis=1).mean())
        if keep is not None:
            keep.update(out)
            # For the failure gallery: the best image of the wrongly predicted product, and an
            # image of the right one (its catalogue image when it has one).
            wrong = np.flatnonzero(out["fine_pred"] != q_labels)
            keep["wrong_image"] = {int(i): int(np.flatnonzero(g_labels == out["fine_pred"][i])[
                sims[i, g_labels == out["fine_pred"][i]].argmax()]) for i in wrong}
            keep["right_image"] = {int(c): int(np.flatnonzero((g_labels == c) & iconic)[0] if ((g_labels == c) & iconic).any()
                                               else np.flatnonzero(g_labels == c)[0]) for c in np.unique(q_labels)}
        return _public(out)

    results: dict[str, Any] = {}
    details: dict[str, Any] = {}
    fine = coarse = None
    mode = "nearest product"
    if model.info.get("classifier"):
        fine, coarse, mode = _trained_scores(catalog, model, q, q @ gallery.T, g_labels, classes, categories,
                                              class_cat)
    say("scoring the active model")
    main_name = f"active: {model.version}"
    results[main_name] = method(main_name, q, gallery, fine, coarse, keep=details)
    results[main_name]["recognition_mode"] = mode

    if baselines:
        unknown = set(baselines) - set(BASELINES)
        if unknown:
            raise TrainingError(f"unknown baseline(s) {sorted(unknown)}; known: {', '.join(BASELINES)}")
    if "off-the-shelf" in baselines:
        say("baseline: off-the-shelf features")
        results["off-the-shelf"] = _off_the_shelf(catalog, g_sources, g_ids_arr, images, queries_ok, method)
    if "colour-histogram" in baselines or "small-cnn" in baselines:
        say("baselines: decoding thumbnails")
        from . import baselines as bl

        g_thumbs, g_hist, g_ok = bl.decode_thumbnails(g_sources)
        q_thumbs, q_hist, _ = bl.decode_thumbnails([it.image for it in queries_ok])
        if "colour-histogram" in baselines:
            results["colour-histogram"] = method("colour-histogram", bl.colour_histograms(q_hist), bl.colour_histograms(g_hist))
        if "small-cnn" in baselines:
            say(f"baseline: small CNN from scratch ({cnn_epochs} epochs)")
            t0 = time.perf_counter()
            apply = bl.train_small_cnn(g_thumbs[g_ok], g_labels[g_ok], len(classes), epochs=cnn_epochs)
            q_emb, q_logits = apply(q_thumbs)
            g_emb, _ = apply(g_thumbs)
            results["small-cnn (scratch)"] = method("small-cnn", q_emb, g_emb, fine=q_logits)
            results["small-cnn (scratch)"]["train_seconds"] = round(time.perf_counter() - t0, 1)

    latency = search_latency(catalog, [it.image for it in queries_ok[:latency_samples]])
    metrics = {
        "model": model.key, "queries": len(queries_ok), "queries_skipped": skipped + len(usable) - len(queries_ok),
        "gallery_images": len(gallery), "products": len(classes), "categories": len(categories),
        "catalog_images_for_matching": int(iconic.sum()),
        "embed_throughput_img_s": round(len(queries_ok) / max(embed_seconds, 1e-9), 1),
        "latency_ms": latency, "methods": results,
    }
    details.update({"q_labels": q_labels, "g_labels": g_labels, "q_sources": [str(it.image) for it in queries_ok],
                    "g_sources": g_sources, "q_cat": q_cat})
    return EvalResult(metrics, classes, categories, details)


def _public(out: dict[str, Any]) -> dict[str, Any]:
    """The JSON part of a method's scores (arrays stay in details)."""
    keep = ("R@1", "R@5", "R@10", "mAP", "mAP@R", "fine_top1", "fine_top5", "coarse_top1", "coarse_top5",
            "iconic_top1", "iconic_top5", "recall_curve")
    return {k: out[k] for k in keep if k in out}


def _trained_scores(catalog, model, q, sims, g_labels, classes, categories, class_cat):
    from ..training.classify import category_probs, classifier_probs, load_head, mode_probs

    head = load_head(catalog.models_dir / model.version)
    meta = head["meta"]
    rec = meta["recognition"]
    n = len(classes)
    p_cls = np.zeros((len(q), n))
    trained = {p: i for i, p in enumerate(meta["classes"])}
    probs = classifier_probs(q, head["proxies"], rec["scale"])
    for p, i in trained.items():
        if p in classes:
            p_cls[:, classes.index(p)] = probs[:, i]
    knn = scoring.class_scores_from_sims(sims, g_labels, n)
    knn = np.where(np.isfinite(knn), knn, -1.0)
    fine = mode_probs(rec["mode"], p_cls, knn)
    coarse = None
    if categories and meta["categories"]:
        pc = classifier_probs(q, head["coarse"][: len(meta["categories"])], rec["scale"])
        proxy_probs = np.zeros((len(q), len(categories)))
        for i, c in enumerate(meta["categories"]):
            if c in categories:
                proxy_probs[:, categories.index(c)] = pc[:, i]
        coarse = category_probs(rec.get("coarse_mode", "proxies"), proxy_probs, fine, class_cat, len(categories))
    return fine, coarse, rec["mode"]


def _off_the_shelf(catalog, g_sources, g_ids, images, queries_ok, method):
    from ..training.head_recipe import base_embedder, feature_cache
    from ..training.features import extract_features

    embedder = base_embedder(catalog)
    cache = feature_cache(catalog)
    try:
        g_entries = [(images[int(i)].sha256, s) for i, s in zip(g_ids, g_sources)]
        q_entries = [(content_hash(read_bytes(it.image)), it.image) for it in queries_ok]
        g, g_ok = extract_features(embedder, g_entries, views=1, cache=cache)
        qf, q_ok = extract_features(embedder, q_entries, views=1, cache=cache)
    finally:
        cache.close()
    if len(g_ok) != len(g_entries) or len(q_ok) != len(q_entries):
        raise TrainingError("some catalogue or query images could not be decoded for the off-the-shelf baseline")
    return method("off-the-shelf", qf[:, 0], g[:, 0])


def search_latency(catalog, sources: Sequence) -> dict[str, float]:
    """End-to-end search latency (decode + embed + index + rank) for single queries, in ms."""
    if not sources:
        return {}
    catalog.search(sources[0], k=10)  # warm-up
    times = []
    for s in sources:
        t0 = time.perf_counter()
        catalog.search(s, k=10)
        times.append((time.perf_counter() - t0) * 1000)
    return {"p50": round(float(np.percentile(times, 50)), 2), "p95": round(float(np.percentile(times, 95)), 2),
            "samples": len(times)}
