"""`productlens datasets`: turn public datasets into ingest files."""

from __future__ import annotations

from pathlib import Path

import click

from .. import settings
from ..catalog.datasets import GROCERY_SPLITS, write_grocery_csv
from .formats import emit_record, format_option
from .main import cli


@cli.group()
def datasets() -> None:
    """Adapters for public product datasets."""


@datasets.command("grocery-store")
@click.option("--root", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=lambda: settings.get("grocery_root"), show_default="PRODUCTLENS_GROCERY_ROOT or ../shared/...",
              help="Root of the Grocery Store dataset.")
@click.option("--split", type=click.Choice(GROCERY_SPLITS), default="train", show_default=True)
@click.option("--iconic", is_flag=True, help="Also include each product's catalogue (iconic) image.")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="CSV to write.")
@format_option
def grocery_store(root: Path, split: str, iconic: bool, out: Path, fmt: str) -> None:
    """Write a products CSV for a Grocery Store split; then `productlens add OUT.csv`."""
    count = write_grocery_csv(root, split, out, iconic=iconic)
    emit_record(fmt, {"rows": count, "out": str(out)}, show=lambda: click.echo(f"wrote {count} rows to {out}"))
