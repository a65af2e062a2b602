"""A self-contained HTML review page: each duplicate cluster's images side by side.

Thumbnails are embedded as data: URIs so the page can be mailed or archived; an image whose
file is missing is shown as a labelled placeholder.
"""

from __future__ import annotations

import base64
import html
import io
from ..catalog.records import ImageRecord
from ..errors import ImageError
from ..images import load_image
from .finder import DuplicateReport
from .port import ReviewSource

THUMB = 180
MAX_PER_CLUSTER = 24  # thumbnails shown per image cluster (the JSON lists every member)
STYLE = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
.cluster{border:1px solid #ccc;border-radius:6px;padding:.6em;margin:.8em 0}
.row{display:flex;gap:.6em;flex-wrap:wrap}figure{margin:0;width:%dpx;font-size:12px}
img{max-width:%dpx;max-height:%dpx;display:block;border:1px solid #eee}.missing{width:%dpx;height:%dpx;background:#eee}
h2{font-size:1.05em;margin:.2em 0}""" % (THUMB, THUMB, THUMB, THUMB, THUMB)


def _thumb(catalog: ReviewSource, record: ImageRecord) -> str | None:
    """A data-URI thumbnail from the stored upload or the unchanged ingest source; None if gone."""
    data = catalog.image_bytes(record)
    if data is None:
        return None
    try:
        image = load_image(data, draft_size=THUMB * 2).image
    except ImageError:
        return None
    image.thumbnail((THUMB, THUMB))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()


def _figure(src: str | None, caption: str) -> str:
    pic = f'<img src="{src}" alt="">' if src else '<div class="missing"></div>'
    return f"<figure>{pic}<figcaption>{html.escape(caption)}</figcaption></figure>"


def render_review(catalog: ReviewSource, report: DuplicateReport, *, max_images_per_product: int = 4) -> str:
    """The review page for a report, as one HTML string."""
    parts = [f"<!doctype html><meta charset='utf-8'><title>productlens duplicates</title><style>{STYLE}</style>",
             f"<h1>Duplicate review: {len(report.image_clusters)} image clusters, "
             f"{len(report.product_clusters)} product clusters</h1>",
             f"<p>Thresholds: image {report.image_threshold:.4f}, product {report.product_threshold:.4f}.</p>"]
    parts.append("<h2>Near-identical images</h2>" if report.image_clusters else "")
    for n, cluster in enumerate(report.image_clusters, start=1):
        records = {im.id: im for im in catalog.images_by_id(cluster.members)}
        figures = [_figure(_thumb(catalog, records[i]), f"image {i} · {records[i].product_id}")
                   for i in cluster.members[:MAX_PER_CLUSTER] if i in records]
        if len(cluster.members) > MAX_PER_CLUSTER:
            figures.append(f"<p>+ {len(cluster.members) - MAX_PER_CLUSTER} more images</p>")
        parts.append(f"<div class='cluster'><h2>Image cluster {n} (min score {cluster.score:.3f})</h2>"
                     f"<div class='row'>{''.join(figures)}</div></div>")
    parts.append("<h2>Probably the same product</h2>" if report.product_clusters else "")
    for n, cluster in enumerate(report.product_clusters, start=1):
        figures = []
        for product in catalog.get_products(cluster.members):
            for im in catalog.images(product.id)[:max_images_per_product]:
                figures.append(_figure(_thumb(catalog, im), f"{product.id}: {product.title}"))
        parts.append(f"<div class='cluster'><h2>Product cluster {n}: {html.escape(', '.join(cluster.members))} "
                     f"(min score {cluster.score:.3f})</h2><div class='row'>{''.join(figures)}</div></div>")
    return "\n".join(parts)
