"""`productlens export`: products and their photos as a feed that `add` reads back."""

from __future__ import annotations

from pathlib import Path

import click

from ..catalog.export import FEED_FORMATS
from .main import State, catalog_options, cli
from .output import print_json


@cli.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FEED_FORMATS), default="csv", show_default=True,
              help="Feed file: products.csv (text values) or products.jsonl (keeps numbers and lists).")
@click.option("--where", help="Export only the products this filter matches (docs/filters.md).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@catalog_options
def export(state: State, folder: Path, fmt: str, where: str | None, as_json: bool) -> None:
    """Write products (with attributes, one row per image) and their image files into a new FOLDER.

    The inverse of `add`: `productlens --catalog ./copy add FOLDER/products.csv` rebuilds the same
    products with the same photos. Images whose files are gone are listed and left out.
    """
    with state.open() as catalog:
        report = catalog.export(folder, fmt=fmt, where=where)
    if as_json:
        print_json(report.to_dict())
    elif not state.quiet:
        click.echo(f"exported {report.products} product(s) and {report.images} image(s) to {report.feed}")
        for source in report.missing:
            click.echo(f"  missing: {source} (its file is gone or changed)")
