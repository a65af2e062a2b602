"""Showing detected products: `productlens detect` and `productlens search --objects`."""

from __future__ import annotations

from pathlib import Path

import click

from ..detection import Detection
from ..results import ObjectResult
from .formats import emit
from .output import hits_table, show_table

DETECTION_COLUMNS = ("query", "object", "x0", "y0", "x1", "y1", "score")
OBJECT_COLUMNS = ("query", "object", "x0", "y0", "x1", "y1", "score", "rank", "id", "title", "category", "hit_score")


def _box_text(box: tuple[float, float, float, float]) -> str:
    return ",".join(f"{v:.0f}" for v in box)


def emit_detections(fmt: str, image: Path, found: list[Detection]) -> None:
    """One row per box; --json gives {"query", "objects": [{"box", "score"}]}."""
    rows = [{"query": str(image), "object": n, "x0": round(d.box[0], 1), "y0": round(d.box[1], 1),
             "x1": round(d.box[2], 1), "y1": round(d.box[3], 1), "score": round(d.score, 4)}
            for n, d in enumerate(found, start=1)]

    def show() -> None:
        if not found:
            click.echo(f"{image.name}: no product detected")
        for n, d in enumerate(found, start=1):
            click.echo(f"{n:>3}  box {_box_text(d.box):<20}  score {d.score:.2f}")

    emit(fmt, rows, columns=DETECTION_COLUMNS, show=show,
         document={"query": str(image), "objects": [d.to_dict() for d in found]})


def emit_objects(fmt: str, image: Path, found: list[ObjectResult]) -> None:
    """A table of results per object; --json gives {"query", "objects": [{"box", "score",
    "results", "recognition"}]}; CSV/TSV/JSON lines one row per (object, hit)."""
    rows = []
    for n, obj in enumerate(found, start=1):
        for hit in obj.hits:
            rows.append({"query": str(image), "object": n, "x0": round(obj.box[0], 1), "y0": round(obj.box[1], 1),
                         "x1": round(obj.box[2], 1), "y1": round(obj.box[3], 1), "score": round(obj.score, 4),
                         "rank": hit.rank, "id": hit.product.id, "title": hit.product.title,
                         "category": hit.product.category, "hit_score": round(hit.score, 6)})

    def show() -> None:
        for n, obj in enumerate(found, start=1):
            named = obj.recognition.product
            verdict = f"recognised {named.id}" if named is not None else "not recognised"
            where = "whole photo (no product detected)" if obj.whole_frame else f"box {_box_text(obj.box)}, score {obj.score:.2f}"
            show_table(hits_table(obj.hits, f"object {n}: {where}; {verdict}"))

    emit(fmt, rows, columns=OBJECT_COLUMNS, show=show,
         document={"query": str(image), "objects": [o.to_dict() for o in found]})
