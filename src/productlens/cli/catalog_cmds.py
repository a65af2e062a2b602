"""Commands that change or describe the catalogue: add, update, remove, info, list, calibrate."""

from __future__ import annotations

from pathlib import Path

import click

from ..catalog.ingest import read_source
from ..errors import CatalogNotFoundError
from ..results import IngestReport
from .main import State, cli
from .output import console, make_progress, print_json

pass_state = click.make_pass_decorator(State)


@cli.command()
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--product", help="Product id for a single image (or a folder of one product's photos).")
@click.option("--model", help="Embedder for a new catalogue (default efficientnet-lite0).")
@click.option("--precision", type=click.Choice(["fp32", "int8"]), help="Inference precision for a new catalogue.")
@click.option("--index", "index_kind", help="Index for a new catalogue: flat, hnsw, ivfpq or milvus://host:port.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_state
def add(state: State, source: Path, product: str | None, model: str | None, precision: str | None,
        as_json: bool, index_kind: str | None = None) -> None:
    """Add products and photos from a folder tree, a CSV/JSONL file, or one image.

    Creates the catalogue if it does not exist. Re-running is safe: photos already in the
    catalogue (same bytes) are skipped, so an interrupted add resumes where it stopped.
    """
    items = None
    try:
        catalog = state.open(model=model, precision=precision, index=index_kind)
    except CatalogNotFoundError:  # a malformed source fails before the new catalogue is created
        items = list(read_source(source, product=product))
        catalog = state.open(create=True, model=model, precision=precision, index=index_kind)
    with catalog:
        if items is None:  # an existing catalogue: a products-only table may update products that have photos
            items = catalog.read_source(source, product=product)
        with make_progress(state.quiet or as_json) as progress:
            report = catalog.add_items(items, progress=progress)
        if as_json:
            print_json(report.to_dict())
        elif not state.quiet:
            _print_report(report)


def _print_report(report: IngestReport) -> None:
    rate = report.added / report.seconds if report.seconds else 0.0
    console.print(
        f"added {report.added} image(s), {report.duplicates} duplicate(s), {len(report.skipped)} skipped; "
        f"products: {report.products_created} new, {report.products_updated} updated "
        f"({report.seconds:.1f} s, {rate:.0f} img/s)"
    )
    for s in report.skipped:
        console.print(f"  skipped {s.source}: [{s.reason}] {s.message}", highlight=False, markup=False)


@cli.command()
@click.argument("product_ids", nargs=-1, required=True)
@pass_state
def remove(state: State, product_ids: tuple[str, ...]) -> None:
    """Remove products with all their images."""
    with state.open() as catalog:
        images = catalog.remove(product_ids)
    if not state.quiet:
        console.print(f"removed {len(product_ids)} product(s) and {images} image(s)")


@cli.command()
@click.argument("product_id")
@click.option("--title")
@click.option("--category")
@click.option("--description")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE", help="Set an attribute (repeatable).")
@click.option("--unset", multiple=True, metavar="KEY", help="Remove an attribute (repeatable).")
@pass_state
def update(state: State, product_id: str, title, category, description, assignments, unset) -> None:
    """Change a product's fields or attributes."""
    changes: dict = {k: v for k, v in (("title", title), ("category", category), ("description", description)) if v is not None}
    attributes: dict = {key: None for key in unset}
    for item in assignments:
        if "=" not in item:
            raise click.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint="--set")
        key, value = item.split("=", 1)
        attributes[key.strip()] = value
    if attributes:
        changes["attributes"] = attributes
    with state.open() as catalog:
        product = catalog.update_product(product_id, **changes)
    if not state.quiet:
        print_json(product.to_dict())


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@pass_state
def info(state: State, as_json: bool) -> None:
    """Describe the catalogue: size, model, index, recognition threshold."""
    with state.open() as catalog:
        data = catalog.info()
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        if key == "recognition":
            value = f"threshold {value['threshold']:.3f} ({'calibrated' if value['known_queries'] else 'default'})"
        console.print(f"{key:>16}: {value}", highlight=False)


@cli.command("list")
@click.option("--where", help="Filter, e.g. \"category = 'Milk' and price < 3\".")
@click.option("--limit", type=int, default=None)
@click.option("--offset", type=int, default=0)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def list_(state: State, where: str | None, limit: int | None, offset: int, as_json: bool) -> None:
    """List products."""
    with state.open() as catalog:
        products = catalog.list_products(where, limit=limit, offset=offset)
    if as_json:
        print_json([p.to_dict() for p in products])
        return
    for p in products:
        console.print(f"{p.id}\t{p.title}\t{p.category or ''}\t{p.image_count} image(s)", highlight=False, markup=False)


@cli.command()
@click.option("--photos", type=click.Path(exists=True, path_type=Path),
              help="Labelled photos NOT in the catalogue (folder tree or CSV/JSONL, like `add`).")
@click.option("--queries", "max_queries", type=int, default=400, show_default=True,
              help="Without --photos: burst groups of catalogue photos to hold out, one query each.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def calibrate(state: State, photos: Path | None, max_queries: int, as_json: bool) -> None:
    """Fit the active model version's recognition confidence and "unknown" threshold, and store them for it.

    Without --photos, whole burst groups of the catalogue's photos are held out as queries.
    Prints how many right answers and unknown products each confidence threshold accepts/rejects.
    """
    with state.open() as catalog:
        items = read_source(photos) if photos is not None else None
        cal = catalog.calibrate(photos=items, max_queries=max_queries)
    if as_json:
        print_json(cal.to_dict())
    elif not state.quiet:
        click.echo(f"confidence threshold {cal.threshold:.3f}: accepts {cal.known_accept_rate:.1%} of right answers, "
                   f"rejects {cal.unknown_reject_rate:.1%} of unknown products "
                   f"({cal.known_queries} queries from {cal.source}; top-1 {cal.top1_accuracy:.1%})")
        click.echo("threshold  right answers accepted  unknown products rejected")
        for threshold, accepted, rejected in cal.curve[::2]:
            click.echo(f"{threshold:9.2f}  {accepted:22.1%}  {rejected:25.1%}")
