"""The evaluation report: report.html + PNG plots + metrics.json in one folder.

Plots: methods compared, recall vs k, fine and coarse confusion matrices, per-product accuracy,
a failure gallery (query | best image of the wrongly predicted product | an image of the right
one, its catalogue image when there is one), and the active
version's training curves when it has them. matplotlib runs with the Agg backend.
"""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ..images import load_image
from .evaluate import EvalResult

MAIN_METRICS = ("R@1", "R@5", "R@10", "mAP", "mAP@R", "fine_top1", "fine_top5", "coarse_top1", "coarse_top5",
                "iconic_top1", "iconic_top5")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_report(result: EvalResult, folder: str | Path, *, curves: Path | None = None, max_failures: int = 12) -> dict[str, Path]:
    """Write every file; returns name -> path (report.html, metrics.json and each PNG)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    plt = _plt()
    files: dict[str, Path] = {}
    methods = result.metrics["methods"]
    d = result.details

    fig, ax = plt.subplots(figsize=(9, 4))
    keys = [k for k in ("R@1", "mAP", "fine_top1", "coarse_top1", "iconic_top1") if any(k in m for m in methods.values())]
    width = 0.8 / max(1, len(methods))
    for i, (name, m) in enumerate(methods.items()):
        ax.bar(np.arange(len(keys)) + i * width, [m.get(k, 0) for k in keys], width, label=name)
    ax.set_xticks(np.arange(len(keys)) + 0.4 - width / 2, keys)
    ax.set(ylim=(0, 1), title="methods compared")
    ax.legend(fontsize=7)
    files["methods.png"] = _save(fig, folder / "methods.png", plt)

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, m in methods.items():
        curve = m["recall_curve"]
        ax.plot([int(k) for k in curve], list(curve.values()), marker="o", label=name)
    ax.set(xscale="log", xlabel="k", ylabel="Recall@k", ylim=(0, 1.01), title="recall vs k")
    ax.legend(fontsize=7)
    files["recall_vs_k.png"] = _save(fig, folder / "recall_vs_k.png", plt)

    files["confusion_fine.png"] = _confusion(d["fine_confusion"], result.classes, "products", folder / "confusion_fine.png", plt)
    if "coarse_confusion" in d:
        files["confusion_coarse.png"] = _confusion(d["coarse_confusion"], result.categories, "categories",
                                                   folder / "confusion_coarse.png", plt)
    acc = d["fine_per_class"]
    order = np.argsort(np.nan_to_num(acc, nan=2.0))
    fig, ax = plt.subplots(figsize=(7, max(3, 0.16 * len(order))))
    ax.barh(np.arange(len(order)), np.nan_to_num(acc[order]), color="tab:blue")
    ax.set_yticks(np.arange(len(order)), [result.classes[i] for i in order], fontsize=6)
    ax.set(xlim=(0, 1), title="per-product accuracy (active model)")
    files["per_product.png"] = _save(fig, folder / "per_product.png", plt)

    failures = _failures(d, max_failures)
    files["failures.png"] = _failure_gallery(failures, result.classes, folder / "failures.png", plt)
    if curves is not None and Path(curves).exists():
        files["training_curves.png"] = Path(shutil.copy(curves, folder / "training_curves.png"))

    per_product = {result.classes[i]: (None if np.isnan(a) else round(float(a), 4)) for i, a in enumerate(acc)}
    metrics = {**result.metrics, "per_product_accuracy": per_product,
               "failures": [{"query": q, "predicted": result.classes[p], "predicted_image": w, "right_product": result.classes[t]}
                            for q, w, t, _, p in failures]}
    js = folder / "metrics.json"
    js.write_text(json.dumps(metrics, indent=2, default=_json_default))
    files["metrics.json"] = js
    page = folder / "report.html"
    page.write_text(_html(result, files))
    files["report.html"] = page
    return files


def _json_default(o: Any):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


def _save(fig, path: Path, plt) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _confusion(cm: np.ndarray, names: list[str], what: str, path: Path, plt) -> Path:
    size = min(14, 3 + 0.12 * len(names))
    fig, ax = plt.subplots(figsize=(size, size))
    rows = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    fs = 5 if len(names) > 40 else 7
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=fs)
    ax.set_yticks(range(len(names)), names, fontsize=fs)
    ax.set(title=f"confusion matrix ({what}; rows = truth)", xlabel="predicted", ylabel="true")
    return _save(fig, path, plt)


def _failures(d: dict[str, Any], limit: int) -> list[tuple[str, str, int, str, int]]:
    """(query, best image of the wrong product, true class, an image of the right product,
    predicted class) for mis-recognised queries, one per product first so the gallery varies."""
    wrong = np.flatnonzero(d["fine_pred"] != d["q_labels"])
    seen: set[int] = set()
    first = [i for i in wrong if not (int(d["q_labels"][i]) in seen or seen.add(int(d["q_labels"][i])))]
    picked = (first + [i for i in wrong if i not in set(first)])[:limit]
    return [(d["q_sources"][i], d["g_sources"][d["wrong_image"][int(i)]], int(d["q_labels"][i]),
             d["g_sources"][d["right_image"][int(d["q_labels"][i])]], int(d["fine_pred"][i])) for i in picked]


def _failure_gallery(failures, classes, path: Path, plt) -> Path:
    rows = max(1, len(failures))
    fig, axes = plt.subplots(rows, 3, figsize=(6, 2 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    if not failures:
        axes[0, 1].text(0.5, 0.5, "no failures", ha="center")
    for r, (query, hit, true, right, pred) in enumerate(failures):
        cells = ((query, "query"), (hit, f"predicted: {classes[pred]}"), (right, f"right: {classes[true]}"))
        for c, (src, title) in enumerate(cells):
            try:
                axes[r, c].imshow(load_image(src, draft_size=128).image.resize((128, 128)))
            except Exception:  # a gallery file that is gone: leave the cell empty
                pass
            axes[r, c].set_title(title[:40], fontsize=7)
    return _save(fig, path, plt)


def _html(result: EvalResult, files: dict[str, Path]) -> str:
    m = result.metrics
    methods = m["methods"]
    cols = [k for k in MAIN_METRICS if any(k in v for v in methods.values())]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td>" + "".join(
            f"<td>{v[c]:.3f}</td>" if isinstance(v.get(c), float) else "<td>-</td>" for c in cols) + "</tr>"
        for name, v in methods.items()
    )
    imgs = "".join(
        f'<h2>{html.escape(name[:-4].replace("_", " "))}</h2><img src="{html.escape(name)}" alt="{html.escape(name)}">'
        for name in files if name.endswith(".png")
    )
    info = html.escape(json.dumps({k: v for k, v in m.items() if k != "methods"}, indent=1, default=_json_default))
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>productlens evaluation</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}img{{max-width:100%}}</style>
</head><body><h1>Evaluation of {html.escape(str(m["model"]))}</h1>
<p>{m["queries"]} queries against {m["gallery_images"]} catalogue images of {m["products"]} products.
Baselines are measured in the same run. R@k/mAP/mAP@R: image retrieval; fine/coarse: product/category accuracy;
iconic: matching against the catalogue images only ({m["catalog_images_for_matching"]}).</p>
<table><tr><th>method</th>{head}</tr>{rows}</table>
<p><a href="metrics.json">metrics.json</a></p><pre>{info}</pre>{imgs}</body></html>"""
