"""Commands for duplicate listings (text search itself is `productlens search --text`)."""

from __future__ import annotations

from pathlib import Path

import click

from ..dedup import render_review
from .main import State, cli
from .output import console, print_json

pass_state = click.make_pass_decorator(State)


@cli.command()
@click.option("--calibrate", "calibrate", is_flag=True,
              help="First choose the thresholds on synthetic copies of catalogue images and store them.")
@click.option("--copies", type=click.IntRange(10, 10_000), default=200, show_default=True,
              help="Copies made for --calibrate.")
@click.option("--image-threshold", type=click.FloatRange(-1, 1), help="Override the image threshold (cosine).")
@click.option("--product-threshold", type=click.FloatRange(-1, 1), help="Override the product threshold.")
@click.option("--no-text", is_flag=True, help="Use image evidence only for products.")
@click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a review page with each cluster's images side by side.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def duplicates(state: State, calibrate: bool, copies: int, image_threshold: float | None,
               product_threshold: float | None, no_text: bool, html_out: Path | None, as_json: bool) -> None:
    """Find near-identical images and products that are probably the same listing."""
    with state.open() as catalog:
        if calibrate:
            cal = catalog.calibrate_duplicates(n=copies, use_text=not no_text)
            if not as_json and not state.quiet:
                console.print(
                    f"calibrated on {cal.pairs} copies: image >= {cal.image_threshold:.4f} "
                    f"(P {cal.image_precision:.3f}, R {cal.image_recall:.3f}); product >= {cal.product_threshold:.4f} "
                    f"(P {cal.product_precision:.3f}, R {cal.product_recall:.3f})", highlight=False)
        report = catalog.duplicates(image_threshold=image_threshold, product_threshold=product_threshold,
                                    use_text=not no_text)
        if html_out is not None:
            html_out.write_text(render_review(catalog, report), encoding="utf-8")
    if as_json:
        print_json(report.to_dict())
        return
    console.print(f"{len(report.image_clusters)} image clusters (>= {report.image_threshold:.4f}), "
                  f"{len(report.product_clusters)} product clusters (>= {report.product_threshold:.4f})", highlight=False)
    for c in report.image_clusters:
        console.print(f"  images {', '.join(map(str, c.members))} ({', '.join(c.products)}) min {c.score:.3f}", highlight=False)
    for c in report.product_clusters:
        console.print(f"  products {', '.join(c.members)} min {c.score:.3f}", highlight=False)
    if html_out is not None:
        console.print(f"review page: {html_out}", highlight=False)
