"""`productlens export`: products and their photos as a feed that `add` reads back."""

from __future__ import annotations

from pathlib import Path

import click

from ..catalog.export import FEED_FORMATS, ExportReport
from .formats import emit_record, format_option
from .main import State, catalog_options, cli


@cli.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--format", "feed_format", type=click.Choice(FEED_FORMATS), default="csv", show_default=True,
              help="Feed file: products.csv (text values) or products.jsonl (keeps numbers and lists).")
@click.option("--where", help="Export only the products this filter matches (docs/filters.md).")
@format_option(option="--report-format")
@catalog_options
def export(state: State, folder: Path, feed_format: str, where: str | None, fmt: str) -> None:
    """Write products (with attributes, one row per image) and their image files into a new FOLDER.

    The inverse of `add`: `productlens --catalog ./copy add FOLDER/products.csv` rebuilds the same
    products with the same photos. Images whose files are gone are listed and left out. The report
    printed takes --report-format (--format names the feed file's); CSV, TSV and JSON lines give it as one row.
    """
    with state.open() as catalog:
        report = catalog.export(folder, fmt=feed_format, where=where)
    emit_record(fmt, report.to_dict(), show=lambda: None if state.quiet else _show_export(report))


def _show_export(report: ExportReport) -> None:
    click.echo(f"exported {report.products} product(s) and {report.images} image(s) to {report.feed}")
    for source in report.missing:
        click.echo(f"  missing: {source} (its file is gone or changed)")
