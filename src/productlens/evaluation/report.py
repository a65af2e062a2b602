"""The evaluation report: report.html, its PNG plots and thumbnails, and metrics.json, in one folder.

Written for a store manager reading it in a minute: a headline table (this version against the
off-the-shelf features and the baselines, each number explained), the product pairs mixed up
most and a failure gallery, both with photos, then the plots (report_page.py lays them out,
plots.py draws them). The raw numbers stay in metrics.json, linked from the page.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import ImageError
from ..images import load_image
from . import plots
from .evaluate import EvalResult
from .glossary import HEADLINE
from .report_page import FAILURES_PAGE, FailureView, Figure, Gallery, PairView, render_failures_page, render_page

log = logging.getLogger(__name__)

MAIN_METRICS = ("R@1", "R@5", "R@10", "mAP", "mAP@R", "fine_top1", "fine_top5", "coarse_top1", "coarse_top5",
                "iconic_top1", "iconic_top5")
THUMB_PX = 360  # shown at up to 180 CSS px: sharp on 2x screens
THUMBS_DIR = "thumbs"
PHONE_DIR = "phone"


@dataclass
class Failure:
    """A query photo named wrongly: what it was taken for, and what it is."""

    query: str  # source of the query photo
    right: int  # class index of the true product
    predicted: int  # class index of the product it was taken for
    predicted_image: str  # that product's image closest to the query
    right_image: str  # an image of the right product (its catalogue shot when it has one)


@dataclass
class ConfusedPair:
    right: int
    predicted: int
    count: int  # photos of `right` named `predicted`
    of: int  # photos of `right` in all
    right_image: str
    predicted_image: str


def write_report(result: EvalResult, folder: str | Path, *, history: list[dict[str, float]] | None = None,
                 max_failures: int = 12, max_pairs: int = 8) -> dict[str, Path]:
    """Write every file; returns name -> path (report.html, metrics.json, each PNG and its phone/ twin).

    history: the epochs of the active version's training, drawn in the report's style.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    d = result.details
    methods = result.metrics["methods"]
    cm = d["fine_confusion"]
    failures_total = int((d["fine_pred"] != d["q_labels"]).sum())
    failures = find_failures(d, failures_total)  # every one goes on failures.html, the first few on the report
    pairs = confused_pairs(d, max_pairs)

    headline = [k for k in HEADLINE if any(k in m for m in methods.values())]
    draw = _Plotter(folder)
    figures = [
        draw("methods.png", lambda w: plots.methods_figure(methods, headline, w), "Methods compared",
             "The headline numbers as bars; longer is better."),
        draw("recall_vs_k.png", lambda w: plots.recall_figure(methods, w), "Search recall",
             "How often the right product is among the first k results a shopper sees."),
        draw("per_product.png", lambda w: plots.per_product_figure(result.classes, np.diag(cm), cm.sum(axis=1), w),
             "Accuracy per product",
             "Share of each product's photos named right by this version, worst first; every product is in "
             "metrics.json."),
        draw("confusion_fine.png", lambda w: plots.confusion_figure(cm, result.classes, "product", "products", w),
             "Products mixed up", "Rows: what the photo shows; columns: what this version named it. Numbers off "
             "the diagonal are mistakes."),
    ]
    if "coarse_confusion" in d:
        figures.append(draw("confusion_coarse.png", lambda w: plots.confusion_figure(
            d["coarse_confusion"], result.categories, "category", "categories", w), "Categories mixed up",
            "The same for categories."))
    history = history if history and "train_loss" in history[0] else []
    if history:
        figures.append(draw("training_curves.png", lambda w: plots.curves_figure(history, w), "Training",
                            f"Loss and validation scores per epoch while {_version_of(next(iter(methods)))} was trained."))

    thumbs = _Thumbnails(folder / THUMBS_DIR)
    names = result.classes
    gallery = Gallery(
        pairs=[PairView(names[p.right], thumbs(p.right_image), names[p.predicted], thumbs(p.predicted_image),
                        p.count, p.of) for p in pairs],
        failures=[FailureView(Path(f.query).name, thumbs(f.query), names[f.predicted], thumbs(f.predicted_image),
                              names[f.right], thumbs(f.right_image)) for f in failures],
        failures_total=failures_total,
    )
    every_failure, gallery.failures = gallery.failures, gallery.failures[:max_failures]

    files: dict[str, Path] = {}
    for f in figures:
        files[f.wide.path.name] = f.wide.path
        files[f"{PHONE_DIR}/{f.narrow.path.name}"] = f.narrow.path
    js = folder / "metrics.json"
    js.write_text(json.dumps(_raw_metrics(result, failures[:max_failures], pairs), indent=2, default=_json_default))
    files["metrics.json"] = js
    page = folder / "report.html"
    page.write_text(render_page(result.metrics, figures, gallery, metrics_file=js.name), encoding="utf-8")
    files["report.html"] = page
    if every_failure:
        listing = folder / FAILURES_PAGE
        listing.write_text(render_failures_page(result.metrics, every_failure), encoding="utf-8")
        files[FAILURES_PAGE] = listing
    return files


def _version_of(method: str) -> str:
    """The model version a method name ('active: v2', 'version: v2') is about."""
    return method.split(": ", 1)[-1]


def find_failures(d: dict[str, Any], limit: int) -> list[Failure]:
    """Mis-named query photos, one per product first so the gallery shows varied mistakes."""
    wrong = [int(i) for i in np.flatnonzero(d["fine_pred"] != d["q_labels"])]
    seen: set[int] = set()
    first = [i for i in wrong if not (int(d["q_labels"][i]) in seen or seen.add(int(d["q_labels"][i])))]
    picked = (first + [i for i in wrong if i not in set(first)])[:limit]
    return [Failure(d["q_sources"][i], int(d["q_labels"][i]), int(d["fine_pred"][i]),
                    d["g_sources"][d["wrong_image"][i]], d["g_sources"][d["right_image"][int(d["q_labels"][i])]])
            for i in picked]


def confused_pairs(d: dict[str, Any], limit: int) -> list[ConfusedPair]:
    """The (true, predicted) product pairs with the most mistakes, most first."""
    cm = d["fine_confusion"]
    off = cm - np.diag(np.diag(cm))
    order = np.argsort(-off, axis=None, kind="stable")[:limit]
    pairs = []
    for right, predicted in zip(*np.unravel_index(order, cm.shape)):
        if not off[right, predicted]:
            break
        # the wrongly predicted product's image that drew the first such query
        query = int(np.flatnonzero((d["q_labels"] == right) & (d["fine_pred"] == predicted))[0])
        pairs.append(ConfusedPair(int(right), int(predicted), int(off[right, predicted]), int(cm[right].sum()),
                                  d["g_sources"][d["right_image"][int(right)]],
                                  d["g_sources"][d["wrong_image"][query]]))
    return pairs


class _Plotter:
    """Draws each figure twice: WIDE for screens, NARROW (in phone/) for phones."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        (folder / PHONE_DIR).mkdir(exist_ok=True)

    def __call__(self, name: str, build: Callable[[float], Any], title: str, caption: str) -> Figure:
        wide = plots.save(build(plots.WIDE), self.folder / name)
        narrow = plots.save(build(plots.NARROW), self.folder / PHONE_DIR / name)
        return Figure(title, wide, narrow, caption)


class _Thumbnails:
    """Small JPEG copies of report photos, one per source, named by a hash of the source."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.made: dict[str, str | None] = {}

    def __call__(self, source: str) -> str | None:
        """Path of the thumbnail relative to the report, or None when the photo cannot be read."""
        if source not in self.made:
            self.made[source] = self._make(source)
        return self.made[source]

    def _make(self, source: str) -> str | None:
        name = hashlib.sha1(source.encode()).hexdigest()[:16] + ".jpg"
        try:
            picture = load_image(source, draft_size=THUMB_PX).image
        except (ImageError, OSError) as exc:  # a photo moved since: the page says so in its place
            log.warning("report thumbnail of %s: %s", source, exc)
            return None
        picture.thumbnail((THUMB_PX, THUMB_PX))
        self.folder.mkdir(parents=True, exist_ok=True)
        picture.save(self.folder / name, "JPEG", quality=84)
        return f"{THUMBS_DIR}/{name}"


def _raw_metrics(result: EvalResult, failures: list[Failure], pairs: list[ConfusedPair]) -> dict[str, Any]:
    acc = result.details["fine_per_class"]
    names = result.classes
    return {
        **result.metrics,
        "per_product_accuracy": {names[i]: (None if np.isnan(a) else round(float(a), 4)) for i, a in enumerate(acc)},
        "confused_pairs": [{"product": names[p.right], "taken_for": names[p.predicted], "photos": p.count,
                            "of": p.of} for p in pairs],
        "failures": [{"query": f.query, "predicted": names[f.predicted], "predicted_image": f.predicted_image,
                      "right_product": names[f.right], "right_image": f.right_image} for f in failures],
    }


def _json_default(o: Any):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))
