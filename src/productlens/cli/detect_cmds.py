"""Commands about the product detector: detect, eval-detector."""

from __future__ import annotations

from pathlib import Path

import click

from .formats import emit, format_option
from .main import State, catalog_options, cli
from .objects import emit_detections
from .output import make_progress
from .search_cmds import box_option


@cli.command()
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--max-objects", type=click.IntRange(1, 100), default=20, show_default=True, help="Boxes to return at most.")
@click.option("--min-score", type=click.FloatRange(0, 1), default=0.3, show_default=True,
              help="Leave out boxes whose calibrated score is lower.")
@box_option
@format_option
@catalog_options
def detect(state: State, image: Path, max_objects: int, min_score: float, box, fmt: str) -> None:
    """Find the products in a photo: one box (x0,y0,x1,y1 in the photo's pixels) and score each."""
    with state.open() as catalog:
        found = catalog.detect(image, box=box, max_objects=max_objects, min_score=min_score)
    emit_detections(fmt, image, found)


@cli.command("eval-detector")
@click.option("--boxes", "boxes", type=click.Path(exists=True, path_type=Path), required=True,
              help="True boxes: a boxes.json ({\"images\": [{\"file\", \"boxes\"}]}), a COCO JSON file or a Pascal VOC folder.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for report.json and pictures of the best and worst photos (boxes drawn).")
@click.option("--max-detections", type=click.IntRange(1, 100), default=20, show_default=True,
              help="Detections a photo may use for recall and AP.")
@format_option
@catalog_options
def eval_detector(state: State, boxes: Path, report_dir: Path | None, max_detections: int, fmt: str) -> None:
    """Score the product detector on photos with true boxes: box recall at IoU 0.5, AP50, and end-to-end
    per-box top-1 when the boxes name products (the matching detection's first result must be that product)."""
    with state.open() as catalog, make_progress(state.quiet) as progress:
        report = catalog.evaluate_detector(boxes, report_dir, max_detections=max_detections, progress=progress)
    row = report.to_dict()

    def show() -> None:
        click.echo(f"{report.photos} photos, {report.true_boxes} true boxes, <= {report.max_detections} detections a photo")
        click.echo(f"box recall @ IoU 0.5  {report.recall50:.3f}")
        click.echo(f"AP50                  {report.ap50:.3f}")
        if report.top1 is not None:
            click.echo(f"per-box top-1 (end to end, {report.product_boxes} boxes naming products)  {report.top1:.3f}")
        if report.folder:
            click.echo(f"report: {report.folder}")

    emit(fmt, [row], columns=("photos", "true_boxes", "recall50", "ap50", "product_boxes", "top1"), show=show, document=row)
