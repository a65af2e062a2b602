"""Commands for duplicate listings (text search itself is `productlens search --text`)."""

from __future__ import annotations

from pathlib import Path

import click

from ..dedup import DuplicateReport
from .formats import emit, format_option
from .main import State, catalog_options, cli


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
@format_option
@catalog_options
def duplicates(state: State, calibrate: bool, copies: int, image_threshold: float | None,
               product_threshold: float | None, no_text: bool, html_out: Path | None, fmt: str) -> None:
    """Find near-identical images and products that are probably the same listing.

    CSV, TSV and JSON lines give one row per cluster: kind (image or product), members, products, score.
    """
    with state.open() as catalog:
        if calibrate:
            cal = catalog.dedup.fit_thresholds(n=copies, use_text=not no_text)
            if fmt == "table" and not state.quiet:
                click.echo(f"calibrated on {cal.pairs} copies: image >= {cal.image_threshold:.4f} "
                           f"(P {cal.image_precision:.3f}, R {cal.image_recall:.3f}); product >= {cal.product_threshold:.4f} "
                           f"(P {cal.product_precision:.3f}, R {cal.product_recall:.3f})")
        report = catalog.duplicates(image_threshold=image_threshold, product_threshold=product_threshold,
                                    use_text=not no_text)
        if html_out is not None:
            html_out.write_text(catalog.dedup.review_page(report), encoding="utf-8")
    clusters = [*report.image_clusters, *report.product_clusters]
    rows = [{"kind": c.kind, "members": c.members, "products": c.products or c.members, "score": round(c.score, 6)}
            for c in clusters]
    emit(fmt, rows, columns=("kind", "members", "products", "score"), show=lambda: _show(report, html_out),
         document=report.to_dict())


def _show(report: DuplicateReport, html_out: Path | None) -> None:
    click.echo(f"{len(report.image_clusters)} image clusters (>= {report.image_threshold:.4f}), "
               f"{len(report.product_clusters)} product clusters (>= {report.product_threshold:.4f})")
    for c in report.image_clusters:
        click.echo(f"  images {', '.join(map(str, c.members))} ({', '.join(c.products)}) min {c.score:.3f}")
    for c in report.product_clusters:
        click.echo(f"  products {', '.join(c.members)} min {c.score:.3f}")
    if html_out is not None:
        click.echo(f"review page: {html_out}")
