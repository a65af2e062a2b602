"""Commands about the product detector: detect, eval-detector."""

from __future__ import annotations

from pathlib import Path

import click

from .formats import format_option
from .main import State, catalog_options, cli
from .objects import emit_detections
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
