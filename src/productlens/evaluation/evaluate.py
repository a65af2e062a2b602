"""`evaluate`: labelled query photos against the catalogue, for the active model and baselines.

Data loading is data.py (gallery = the catalogue's images; queries embedded with the active
model); this module scores. Retrieval is image-level (R@k, mAP, mAP@R); fine accuracy is the
recogniser's product ranking (a trained version's classifier / kNN / blend as chosen on
validation, else nearest product); coarse accuracy uses the trained version's category mode (also
chosen on validation) or the best product per category. Catalogue-image matching restricts the
gallery to the images whose source contains `catalog_image_pattern` (a catalogue's product
shots; by default found from their file names, as Grocery's `_Iconic` images; "" for none) and
reports it separately (the `iconic_*` metrics).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ..catalog.ingest import IngestItem
from ..errors import TrainingError
from ..images import content_hash, read_bytes
from ..training.classify import category_probs, classifier_probs, recognizer_scores
from ..training.features import extract_features
from ..training.head_recipe import base_embedder, feature_cache
from . import baselines as bl
from . import scoring
from .data import EvaluationSource, Gallery, ModelUnderTest, QuerySet, embed_queries, load_gallery

BASELINES = ("colour-histogram", "off-the-shelf", "small-cnn")
PUBLIC_SCORES = ("R@1", "R@5", "R@10", "mAP", "mAP@R", "fine_top1", "fine_top5", "coarse_top1", "coarse_top5",
                 "iconic_top1", "iconic_top5", "recall_curve")


@dataclass
class EvalResult:
    metrics: dict[str, Any]  # JSON-friendly: per method, plus run info
    classes: list[str]
    categories: list[str]
    details: dict[str, Any] = field(default_factory=dict)  # arrays for the report (main model)


def evaluate(
    catalog: EvaluationSource,
    queries: Sequence[IngestItem],
    *,
    version: str | None = None,
    baselines: Sequence[str] = BASELINES,
    catalog_image_pattern: str | None = None,
    cnn_epochs: int = 10,
    latency_samples: int = 30,
    progress: Callable[[str], None] | None = None,
) -> EvalResult:
    """Score the active model (and the named baselines, measured in the same run) on `queries`;
    with `version`, score that model version first, without activating it, beside the active one."""
    say = progress or (lambda _m: None)
    unknown = set(baselines) - set(BASELINES)
    if unknown:
        raise TrainingError(f"unknown baseline(s) {sorted(unknown)}; known: {', '.join(BASELINES)}")
    views = [catalog.model_view(version)] if version else []
    active = catalog.model_view()
    views += [active] if not views or views[0].record.key != active.record.key else []
    results: dict[str, Any] = {}
    details: dict[str, Any] = {}
    for view in views:
        gallery = load_gallery(catalog, view.record)
        if catalog_image_pattern is None:
            catalog_image_pattern = gallery.product_shot_pattern() or ""
        view_qs = embed_queries(view.embedder, gallery, queries, say)
        fine, coarse, mode = trained_scores(view, gallery, view_qs) if view.head is not None else (None, None, "nearest product")
        say(f"scoring {view.record.version}")
        name = f"{'active' if view is active else 'version'}: {view.record.version}"
        matching = gallery.catalog_images(catalog_image_pattern)
        results[name] = score_method(gallery, view_qs, view_qs.vectors, gallery.vectors, matching, fine, coarse,
                                     keep=details if view is views[0] else None)
        results[name]["recognition_mode"] = mode
        if view is views[0]:
            main, qs = gallery, view_qs
    gallery, matching = main, main.catalog_images(catalog_image_pattern)
    if "off-the-shelf" in baselines:
        say("baseline: off-the-shelf features")
        q_feats, g_feats = off_the_shelf(catalog, gallery, qs)
        results["off-the-shelf"] = score_method(gallery, qs, q_feats, g_feats, matching)
    if "colour-histogram" in baselines or "small-cnn" in baselines:
        say("baselines: decoding thumbnails")
        g_thumbs, g_hist, g_ok = bl.decode_thumbnails(gallery.sources)
        q_thumbs, q_hist, _ = bl.decode_thumbnails([it.image for it in qs.items])
        if "colour-histogram" in baselines:
            results["colour-histogram"] = score_method(gallery, qs, bl.colour_histograms(q_hist),
                                                       bl.colour_histograms(g_hist), matching)
        if "small-cnn" in baselines:
            say(f"baseline: small CNN from scratch ({cnn_epochs} epochs)")
            t0 = time.perf_counter()
            apply = bl.train_small_cnn(g_thumbs[g_ok], gallery.labels[g_ok], len(gallery.classes), epochs=cnn_epochs)
            q_emb, q_logits = apply(q_thumbs)
            g_emb, _ = apply(g_thumbs)
            results["small-cnn (scratch)"] = score_method(gallery, qs, q_emb, g_emb, matching, fine=q_logits)
            results["small-cnn (scratch)"]["train_seconds"] = round(time.perf_counter() - t0, 1)

    metrics = {
        "model": gallery.model.key, "active_model": active.record.key, "queries": len(qs.items),
        "queries_skipped": qs.skipped, "skipped_queries": qs.skipped_why, "gallery_images": len(gallery.vectors), "products": len(gallery.classes),
        "categories": len(gallery.categories), "catalog_images_for_matching": int(matching.sum()),
        "catalog_images_pattern": catalog_image_pattern or None,
        "embed_throughput_img_s": round(len(qs.items) / max(qs.embed_seconds, 1e-9), 1),
        # End-to-end search latency is the active model's (search runs on its index).
        "latency_ms": search_latency(catalog, [it.image for it in qs.items[:latency_samples]]), "methods": results,
    }
    details.update({"q_labels": qs.labels, "g_labels": gallery.labels, "q_sources": [str(it.image) for it in qs.items],
                    "g_sources": gallery.sources, "q_cat": qs.categories})
    return EvalResult(metrics, gallery.classes, gallery.categories, details)


def score_method(gallery: Gallery, qs: QuerySet, q_emb: np.ndarray, g_emb: np.ndarray, matching: np.ndarray,
                 fine: np.ndarray | None = None, coarse: np.ndarray | None = None,
                 keep: dict | None = None) -> dict[str, Any]:
    """One method's scores: retrieval by `q_emb @ g_emb.T`, product accuracy (from `fine` class
    scores, else the best image per product), category accuracy, and catalogue-image matching over
    the `matching` images. With `keep`, the arrays the report draws are stored there too."""
    n_classes, g_labels, q_labels = len(gallery.classes), gallery.labels, qs.labels
    sims = q_emb @ g_emb.T
    out = scoring.retrieval(sims, q_labels, g_labels)
    fine_sc = scoring.class_scores_from_sims(sims, g_labels, n_classes) if fine is None else fine
    out.update(scoring.classification(fine_sc, q_labels, n_classes, "fine"))
    if gallery.categories:
        if coarse is None:
            coarse = np.full((len(q_emb), len(gallery.categories)), -np.inf)
            for c in range(len(gallery.categories)):
                members = gallery.class_category == c
                if members.any():
                    coarse[:, c] = fine_sc[:, members].max(axis=1)
        known = qs.categories >= 0
        out.update(scoring.classification(coarse[known], qs.categories[known], len(gallery.categories), "coarse"))
    if matching.any():
        ic = scoring.class_scores_from_sims(sims[:, matching], g_labels[matching], n_classes)
        have = np.isin(q_labels, g_labels[matching])
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
        keep["right_image"] = {int(c): int(np.flatnonzero((g_labels == c) & matching)[0] if ((g_labels == c) & matching).any()
                                           else np.flatnonzero(g_labels == c)[0]) for c in np.unique(q_labels)}
    return {k: out[k] for k in PUBLIC_SCORES if k in out}


def trained_scores(view: ModelUnderTest, gallery: Gallery, qs: QuerySet) -> tuple[np.ndarray, np.ndarray | None, str]:
    """(product scores, category probabilities or None, recognition mode) of a trained version:
    its recogniser over each query's nearest products, as `recognize` scores them."""
    head, recognizer = view.head, view.recognizer
    meta = head["meta"]
    classes, categories, q = gallery.classes, gallery.categories, qs.vectors
    p_cls = np.full((len(q), len(classes)), np.nan)
    probs = classifier_probs(q, head["proxies"], recognizer.scale)
    index = {p: i for i, p in enumerate(classes)}
    for i, p in enumerate(meta["classes"]):
        if p in index:
            p_cls[:, index[p]] = probs[:, i]
    sims = scoring.class_scores_from_sims(q @ gallery.vectors.T, gallery.labels, len(classes))
    fine = recognizer_scores(sims, recognizer.mode, p_cls)
    coarse = None
    if categories and meta["categories"] and recognizer.coarse_mode is not None:
        pc = classifier_probs(q, head["coarse"][: len(meta["categories"])], recognizer.scale)
        proxy_probs = np.zeros((len(q), len(categories)))
        for i, c in enumerate(meta["categories"]):
            if c in categories:
                proxy_probs[:, categories.index(c)] = pc[:, i]
        coarse = category_probs(recognizer.coarse_mode, proxy_probs, fine, gallery.class_category, len(categories))
    return fine, coarse, recognizer.mode


def off_the_shelf(catalog: EvaluationSource, gallery: Gallery, qs: QuerySet) -> tuple[np.ndarray, np.ndarray]:
    """(query, gallery) features of the untrained backbone, from the training feature cache."""
    embedder = base_embedder(catalog)
    cache = feature_cache(catalog)
    try:
        g_entries = list(zip(gallery.sha256, gallery.sources))
        q_entries = [(content_hash(read_bytes(it.image)), it.image) for it in qs.items]
        g, g_ok = extract_features(embedder, g_entries, views=1, cache=cache)
        qf, q_ok = extract_features(embedder, q_entries, views=1, cache=cache)
    finally:
        cache.close()
    if len(g_ok) != len(g_entries) or len(q_ok) != len(q_entries):
        raise TrainingError("some catalogue or query images could not be decoded for the off-the-shelf baseline")
    return qf[:, 0], g[:, 0]


def search_latency(catalog: EvaluationSource, sources: Sequence) -> dict[str, float]:
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
