"""Commands about the product detector: detect, eval-detector, detector train."""

from __future__ import annotations

from pathlib import Path

import click

from .formats import emit, format_option
from .main import State, catalog_options, cli
from .objects import emit_detections
from .output import err_console, make_progress
from .search_cmds import box_option
from .train_cmds import parse_duration


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
    per-box top-1 when the boxes name products (the matching detection's first result must be that product),
    next to the same with the true boxes' own crops (recognition alone: the gap is what detection costs)."""
    with state.open() as catalog, make_progress(state.quiet) as progress:
        report = catalog.detection.evaluate(boxes, report_dir, max_detections=max_detections, progress=progress)
    row = report.to_dict()

    def show() -> None:
        click.echo(f"{report.photos} photos, {report.true_boxes} true boxes, <= {report.max_detections} detections a photo")
        click.echo(f"box recall @ IoU 0.5  {report.recall50:.3f}")
        click.echo(f"AP50                  {report.ap50:.3f}")
        if report.top1 is not None:
            click.echo(f"per-box top-1 (end to end, {report.product_boxes} boxes naming products)  {report.top1:.3f}")
            click.echo(f"per-box top-1 with the true boxes (recognition alone)  {report.true_box_top1:.3f}")
        if report.folder:
            click.echo(f"report: {report.folder}")

    columns = ("photos", "true_boxes", "recall50", "ap50", "product_boxes", "top1", "true_box_top1")
    emit(fmt, [row], columns=columns, show=show, document=row)


@cli.group()
def detector() -> None:
    """The catalogue's own product detector."""


@detector.command("train")
@click.option("--boxes", "boxes", type=click.Path(exists=True, path_type=Path), default=None,
              help="The shop's labelled photos: a boxes.json, a COCO JSON file or a Pascal VOC folder.")
@click.option("--composites", type=click.IntRange(0), default=0, show_default=True,
              help="Also train on this many synthetic shelf photos made of the catalogue's pictures.")
@click.option("--budget", default="15m", show_default=True, help="Time limit: 10m, 900s, 1h.")
@click.option("--epochs", type=click.IntRange(1), default=16, show_default=True,
              help="At most this many epochs (fewer when the budget allows fewer).")
@click.option("--force", is_flag=True, help="Install the new detector even when it does not validate better.")
@format_option
@catalog_options
def detector_train(state: State, boxes: Path | None, composites: int, budget: str, epochs: int, force: bool,
                   fmt: str) -> None:
    """Fine-tune the detector for this shop on its labelled boxes and/or composites of its photos, a
    part held out; saved with the catalogue (models/detector/) only when it scores better on the
    held-out photos than the detector in use (never worse), unless --force."""
    say = (lambda msg: None) if state.quiet else (lambda msg: err_console.print(msg, highlight=False))
    with state.open() as catalog:
        result = catalog.detection.train(boxes, composites=composites, budget_s=parse_duration(budget), epochs=epochs,
                                        force=force, on_stage=lambda name, s: say(f"{name}: {s:.1f} s"))
    row = result.to_dict()

    def show() -> None:
        b, a = result.before, result.after
        click.echo(f"held-out photos {result.trained_on.get('held_out')}: recall@0.5 {b['recall50']:.3f} -> {a['recall50']:.3f}, "
                   f"AP50 {b['ap50']:.3f} -> {a['ap50']:.3f}")
        if result.installed:
            click.echo(f"installed {result.path}" + (" (forced: it does not validate better)" if result.forced else ""))
        else:
            click.echo("kept the detector in use: the new one does not validate better (--force installs it anyway)")

    emit(fmt, [row], columns=("installed", "forced", "better", "before", "after", "precision", "seconds"), show=show,
         document=row)
