"""Commands that change or describe the catalogue: add, update, remove, info, list, calibrate."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from ..catalog.ingest import LAYOUTS, read_edits, read_source
from ..errors import CatalogNotFoundError, ProductNotFoundError
from ..recognition import Calibration
from ..results import IngestReport
from .formats import emit, emit_record, format_option
from .main import State, catalog_options, cli
from .output import make_progress, show_table, text

PRODUCT_COLUMNS = ("id", "title", "category", "description", "image_count")
CURVE_COLUMNS = ("threshold", "right_answers_accepted", "unknown_rejected")


@cli.command()
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--product", help="Product id for a single image (or a folder of one product's photos).")
@click.option("--category", help="Category of the products a folder tree or single image names "
                                 "(new ones, and existing ones it adds photos to).")
@click.option("--layout", type=click.Choice(LAYOUTS), default="product", show_default=True,
              help="Folder tree: <product>/<photos>, or <category>/<product>/<photos> (first level is the category).")
@click.option("--model", help="Embedder for a new catalogue (default efficientnet-lite0).")
@click.option("--precision", type=click.Choice(["fp32", "int8"]), help="Inference precision for a new catalogue.")
@click.option("--index", "index_kind", help="Index for a new catalogue: flat, hnsw, ivfpq or milvus://host:port.")
@format_option
@catalog_options
def add(state: State, source: Path, product: str | None, category: str | None, layout: str, model: str | None,
        precision: str | None, fmt: str, index_kind: str | None = None) -> None:
    """Add products and photos from a folder tree, a CSV/JSONL file, or one image.

    Creates the catalogue if it does not exist. Re-running is safe: photos already in the
    catalogue (same bytes) are skipped, so an interrupted add resumes where it stopped.
    CSV, TSV and JSON lines give the report as one row.
    """
    items = None
    try:
        catalog = state.open(model=model, precision=precision, index=index_kind)
    except CatalogNotFoundError:  # a malformed source fails before the new catalogue is created
        items = list(read_source(source, product=product, category=category, layout=layout))
        catalog = state.open(create=True, model=model, precision=precision, index=index_kind)
    with catalog:
        if items is None:  # an existing catalogue: a products-only table may update products that have photos
            items = catalog.ingest.read_source(source, product=product, category=category, layout=layout)
        with make_progress(state.quiet or fmt != "table") as progress:
            report = catalog.ingest.add_items(items, progress=progress)
    emit_record(fmt, report.to_dict(), show=lambda: None if state.quiet else _print_report(report))


def _print_report(report: IngestReport) -> None:
    rate = report.added / report.seconds if report.seconds else 0.0
    click.echo(f"added {report.added} image(s), {report.duplicates} duplicate(s), {len(report.skipped)} skipped; "
               f"products: {report.products_created} new, {report.products_updated} updated "
               f"({report.seconds:.1f} s, {rate:.0f} img/s)")
    for s in report.skipped:
        click.echo(f"  skipped {s.source}: [{s.reason}] {s.message}")


@cli.command()
@click.argument("product_ids", nargs=-1, required=True)
@format_option
@catalog_options
def remove(state: State, product_ids: tuple[str, ...], fmt: str) -> None:
    """Remove products with all their images.

    CSV, TSV and JSON lines give the counts removed as one row."""
    with state.open() as catalog:
        images = catalog.remove(product_ids)
    said = f"removed {len(product_ids)} product(s) and {images} image(s)"
    emit_record(fmt, {"products": len(product_ids), "images": images},
                show=lambda: None if state.quiet else click.echo(said))


@cli.command()
@click.argument("product_id", required=False)
@click.option("--title")
@click.option("--category")
@click.option("--description")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE", help="Set an attribute (repeatable).")
@click.option("--unset", multiple=True, metavar="KEY", help="Remove an attribute (repeatable).")
@click.option("--from", "edits_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Bulk edits: a CSV/JSONL file with a product_id column and the columns to set "
                   "(empty cells change nothing). Every product must exist, or nothing changes.")
@format_option
@catalog_options
def update(state: State, product_id: str | None, title, category, description, assignments, unset,
           edits_file: Path | None, fmt: str) -> None:
    """Change a product's fields or attributes, or many products' from a file (--from).

    JSON gives the changed product (with --from, the list of them); CSV, TSV and JSON lines one
    row per changed product."""
    if (product_id is None) == (edits_file is None):
        raise click.UsageError("give a PRODUCT_ID with the changes, or --from FILE")
    if edits_file is not None and (title or category or description or assignments or unset):
        raise click.UsageError("--from takes every change from the file: give no other changes")
    edits = read_edits(edits_file) if edits_file is not None else {product_id: _changes(
        title, category, description, assignments, unset)}
    with state.open() as catalog:
        known = {p.id for p in catalog.list_products()}
        if unknown := [pid for pid in edits if pid not in known]:
            more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
            raise ProductNotFoundError(f"no product with id {unknown[0]!r}{more}; nothing was changed")
        products = [catalog.update_product(pid, **changes) for pid, changes in edits.items()]
    said = f"updated {len(products)} product(s)" if edits_file is not None else f"updated {product_id}"
    emit(fmt, [p.to_dict() for p in products], columns=PRODUCT_COLUMNS,
         show=lambda: None if state.quiet else click.echo(said),
         document=products[0].to_dict() if edits_file is None else None)


def _changes(title, category, description, assignments, unset) -> dict:
    changes: dict = {k: v for k, v in (("title", title), ("category", category), ("description", description))
                     if v is not None}
    attributes: dict = {key: None for key in unset}
    for item in assignments:
        if "=" not in item:
            raise click.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint="--set")
        key, value = item.split("=", 1)
        attributes[key.strip()] = value
    if attributes:
        changes["attributes"] = attributes
    return changes


@cli.command()
@format_option
@catalog_options
def info(state: State, fmt: str) -> None:
    """Describe the catalogue: size, model, index, recognition threshold.

    CSV, TSV and JSON lines give it as one row."""
    with state.open() as catalog:
        data = catalog.info()
    emit_record(fmt, data, show=lambda: _show_info(data))


def _show_info(data: dict) -> None:
    for key, value in data.items():
        if key == "recognition":
            value = f"threshold {value['threshold']:.3f} ({'calibrated' if value['known_queries'] else 'default'})"
        click.echo(f"{key:>16}: {value}")


@cli.command("list")
@click.option("--where", help="Filter, e.g. \"category = 'Milk' and price < 3\" (docs/filters.md).")
@click.option("--limit", type=int, default=None)
@click.option("--offset", type=int, default=0)
@format_option
@catalog_options
def list_(state: State, where: str | None, limit: int | None, offset: int, fmt: str) -> None:
    """List products, with a header row (CSV and TSV add a column per attribute)."""
    with state.open() as catalog:
        products = catalog.list_products(where, limit=limit, offset=offset)

    def show() -> None:
        table = Table()
        for column in ("id", "title", "category", "images"):
            table.add_column(column, justify="right" if column == "images" else "left")
        for p in products:
            table.add_row(text(p.id), text(p.title), text(p.category), str(p.image_count))
        show_table(table)

    emit(fmt, [p.to_dict() for p in products], columns=PRODUCT_COLUMNS, show=show)


@cli.command()
@click.option("--photos", type=click.Path(exists=True, path_type=Path),
              help="Labelled photos NOT in the catalogue (folder tree or CSV/JSONL, like `add`).")
@click.option("--queries", "max_queries", type=int, default=400, show_default=True,
              help="Without --photos: burst groups of catalogue photos to hold out, one query each.")
@format_option
@catalog_options
def calibrate(state: State, photos: Path | None, max_queries: int, fmt: str) -> None:
    """Fit the active model version's recognition confidence and "unknown" threshold, and store them for it.

    Without --photos, whole burst groups of the catalogue's photos are held out as queries.
    Prints how many right answers and unknown products each confidence threshold accepts/rejects:
    CSV, TSV and JSON lines give one row per threshold; JSON is the whole calibration.
    """
    with state.open() as catalog:
        items = read_source(photos) if photos is not None else None
        cal = catalog.calibrate(photos=items, max_queries=max_queries)
    curve = [{"threshold": t, "right_answers_accepted": accepted, "unknown_rejected": rejected}
             for t, accepted, rejected in cal.curve]
    emit(fmt, curve, columns=CURVE_COLUMNS, show=lambda: None if state.quiet else _show_calibration(cal),
         document=cal.to_dict())


def _show_calibration(cal: Calibration) -> None:
    click.echo(f"confidence threshold {cal.threshold:.3f}: accepts {cal.known_accept_rate:.1%} of right answers, "
               f"rejects {cal.unknown_reject_rate:.1%} of unknown products "
               f"({cal.known_queries} queries from {cal.source}; top-1 {cal.top1_accuracy:.1%})")
    click.echo("threshold  right answers accepted  unknown products rejected")
    for threshold, accepted, rejected in cal.curve[::2]:
        click.echo(f"{threshold:9.2f}  {accepted:22.1%}  {rejected:25.1%}")
