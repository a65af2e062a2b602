"""Commands that change or describe the catalogue: add, update, remove, info, list, calibrate."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from ..catalog.ingest import LAYOUTS, read_edits, read_source
from ..errors import CatalogNotFoundError, ProductNotFoundError
from ..recognition import CATALOGUE_PHOTOS, Calibration, OperatingPoint
from ..results import IngestReport
from .formats import emit, emit_record, format_option
from .main import State, catalog_options, cli
from .output import make_progress, show_table, text

PRODUCT_COLUMNS = ("id", "title", "category", "description", "image_count")
CURVE_COLUMNS = ("threshold", "right_answers_accepted", "unknown_rejected", "accepted_and_right")
OVERWRITES_SHOWN = 20  # overwritten values listed in add's summary


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
    if report.failed:
        raise click.ClickException(_shortfall(report))


def _shortfall(report: IngestReport) -> str:
    """The one-line error of an add that fell short (exit status 1; what was added stays)."""
    left_out = report.products_without_images
    if not left_out:
        return f"none of the {len(report.skipped)} image(s) could be added (see the skipped list)"
    more = f" and {len(left_out) - 3} more" if len(left_out) > 3 else ""
    return (f"{len(left_out)} product(s) not created, none of their images could be added: "
            f"{', '.join(left_out[:3])}{more}")


def _print_report(report: IngestReport) -> None:
    rate = report.added / report.seconds if report.seconds else 0.0
    click.echo(f"added {report.added} image(s), {report.duplicates} duplicate(s), {len(report.skipped)} skipped; "
               f"products: {report.products_created} new, {report.products_updated} updated "
               f"({report.seconds:.1f} s, {rate:.0f} img/s)")
    for s in report.skipped:
        click.echo(f"  skipped {s.source}: [{s.reason}] {s.message}")
    if report.overwritten:
        click.echo(f"overwrote {len(report.overwritten)} stored value(s) with the feed's (the feed wins):")
        for change in report.overwritten[:OVERWRITES_SHOWN]:
            click.echo(f"  {change['product']}: {change['field']} {change['old']!r} -> {change['new']!r}")
        if len(report.overwritten) > OVERWRITES_SHOWN:
            click.echo(f"  ... and {len(report.overwritten) - OVERWRITES_SHOWN} more (--json lists them all)")


@cli.command()
@click.argument("product_ids", nargs=-1)
@click.option("--where", help="Remove every product this filter matches (docs/filters.md) instead of naming them.")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; change nothing.")
@format_option
@catalog_options
def remove(state: State, product_ids: tuple[str, ...], where: str | None, dry_run: bool, fmt: str) -> None:
    """Remove products with all their images (named, or those --where matches).

    CSV, TSV and JSON lines give the counts removed as one row."""
    if bool(product_ids) == bool(where):
        raise click.UsageError("name the products to remove, or give --where")
    with state.open() as catalog:
        chosen = [p.id for p in catalog.list_products(where)] if where else list(product_ids)
        if dry_run:
            known = {p.id: p.image_count for p in catalog.list_products() if p.id in set(chosen)}
            if unknown := [pid for pid in chosen if pid not in known]:
                raise ProductNotFoundError(f"no product with id {unknown[0]!r}; nothing was changed")
            images = sum(known.values())
        else:
            images = catalog.remove(chosen)
    verb = "would remove" if dry_run else "removed"
    said = f"{verb} {len(chosen)} product(s) and {images} image(s)" + (f": {', '.join(chosen[:20])}" if where else "")
    emit_record(fmt, {"products": len(chosen), "images": images, "ids": chosen, "dry_run": dry_run},
                show=lambda: None if state.quiet else click.echo(said))


@cli.command("remove-image")
@click.argument("image_ids", nargs=-1, required=True, type=click.IntRange(0))
@format_option
@catalog_options
def remove_image(state: State, image_ids: tuple[int, ...], fmt: str) -> None:
    """Remove images (and their embeddings) by id, as `GET /products/ID` lists them; the products stay."""
    with state.open() as catalog:
        found = {im.id for im in catalog.get_images(image_ids=list(image_ids))}
        if missing := [i for i in image_ids if i not in found]:
            raise click.ClickException(f"no image with id {missing[0]}; nothing was removed")
        removed = sum(catalog.remove_image(i) for i in image_ids)
    emit_record(fmt, {"images": removed}, show=lambda: None if state.quiet else click.echo(f"removed {removed} image(s)"))


@cli.command()
@click.argument("old_id", required=False)
@click.argument("new_id", required=False)
@click.option("--fix-ids", is_flag=True, help="Rename every stored id the id rule does not allow (kept from "
                                                "before it) to a close allowed one, printing old -> new.")
@click.option("--dry-run", is_flag=True, help="With --fix-ids: print the renames, change nothing.")
@format_option
@catalog_options
def rename(state: State, old_id: str | None, new_id: str | None, fix_ids: bool, dry_run: bool, fmt: str) -> None:
    """Give product OLD_ID the id NEW_ID, its photos, text and filters following.

    Ids are 1-128 characters with no '/', '\\' or control characters and no space at either end
    (the same rule for the CLI, the REST API and feeds); --fix-ids brings older ids into line.
    """
    if fix_ids == bool(old_id or new_id) or (not fix_ids and not (old_id and new_id)):
        raise click.UsageError("give OLD_ID NEW_ID, or --fix-ids")
    if dry_run and not fix_ids:
        raise click.UsageError("--dry-run goes with --fix-ids")
    with state.open() as catalog:
        plan = catalog.renamer.fix_all(dry_run=dry_run) if fix_ids else {old_id: catalog.renamer.rename(old_id, new_id).id}
    rows = [{"old": old, "new": new, "renamed": not dry_run} for old, new in plan.items()]
    emit(fmt, rows, columns=("old", "new", "renamed"), show=lambda: None if state.quiet else _print_renames(rows, fix_ids))


def _print_renames(rows: list[dict], fix_ids: bool) -> None:
    for row in rows:
        click.echo(f"{row['old']!r} -> {row['new']!r}" + ("" if row["renamed"] else " (dry run)"))
    if fix_ids and not rows:
        click.echo("every product id follows the id rule; nothing to rename")


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
    if product_id is not None and not (title or category or description or assignments or unset):
        raise click.UsageError("nothing to change: give --title, --category, --description, --set or --unset")
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
        elif key == "calibrations":  # one line each, not a list of dicts
            value = "".join(f"\n{'':>18}{c['name']} for {c['model_key']}{' (active)' if c['active'] else ''}: "
                            f"fitted on {c['fitted_on']}, {c['fitted_at']}" for c in value) or "none"
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
              help="Without --photos: burst groups of catalogue photos to query, one photo each.")
@click.option("--reject-unknown", type=click.FloatRange(0, 1),
              help="Operating point: the share of unknown products to reject (default 0.9).")
@click.option("--accept-right", type=click.FloatRange(0, 1),
              help="Operating point instead: the share of known photos to accept and name right.")
@format_option
@catalog_options
def calibrate(state: State, photos: Path | None, max_queries: int, reject_unknown: float | None,
              accept_right: float | None, fmt: str) -> None:
    """Fit the active model version's recognition confidence and "unknown" threshold, and store them for it.

    Whole products are left out of the catalogue in rotating folds: their photos are the unknown
    products, the other products' photos (whole burst groups held out) the known ones. Prints what
    the threshold accepts and rejects on those left-out products, and the whole trade-off: CSV,
    TSV and JSON lines give one row per threshold; JSON is the whole calibration.
    """
    try:
        point = OperatingPoint.of(reject_unknown, accept_right)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    with state.open() as catalog:
        items = read_source(photos) if photos is not None else None
        cal = catalog.calibrate(photos=items, max_queries=max_queries, point=point)
    curve = [dict(zip(CURVE_COLUMNS, row)) for row in cal.curve]
    emit(fmt, curve, columns=CURVE_COLUMNS, show=lambda: None if state.quiet else _show_calibration(cal),
         document=cal.to_dict())


def _show_calibration(cal: Calibration) -> None:
    for line in calibration_lines(cal):
        click.echo(line)
    click.echo("confidence  known photos accepted and right  unknown products rejected")
    for threshold, _, rejected, right in cal.curve[::2]:
        click.echo(f"{threshold:10.2f}  {right:31.1%}  {rejected:25.1%}")


def calibration_lines(cal: Calibration) -> list[str]:
    """What a recognition calibration promises, with the photos behind each figure."""
    return [f"confidence threshold {cal.threshold:.3f} ({cal.operating_point or 'balanced accuracy'}), "
            f"measured on {cal.source}:",
            f"  unknown products rejected: {cal.unknown_reject_rate:.1%} of {cal.unknown_queries} photos"
            + (f" of {cal.unknown_products} products" if cal.unknown_products else ""),
            f"  known photos accepted and named right: {cal.accepted_right_rate:.1%} of {cal.known_queries} photos "
            f"(top product right for {cal.top1_accuracy:.1%})"] + (CATALOGUE_PHOTOS_CAVEAT if CATALOGUE_PHOTOS in cal.source else [])


# Measured with benchmarks/bench_openset.py (docs/recognition.md): the rejection held, acceptance did not.
CATALOGUE_PHOTOS_CAVEAT = [
    "  catalogue photos stood in for shoppers' here; shoppers' photos taken on other days match less well",
    "  (Grocery: 24% accepted and named right where 69% was printed). For figures that hold, keep some",
    "  labelled photos out of the catalogue and run: productlens calibrate --photos THEM.csv"]
