"""Commands that query the catalogue: search, recognize, similar."""

from __future__ import annotations

from pathlib import Path

import click

from ..ranking import Box, parse_box
from ..results import ProductHit, Recognition
from .formats import emit, format_option
from .main import State, catalog_options, cli
from .output import hits_table, show_table

HIT_COLUMNS = ("rank", "score", "id", "title", "category", "image_id")
VERDICT_COLUMNS = ("query", "known", "product_id", "title", "confidence", "threshold", "similarity", "decision",
                   "category", "category_confidence")


def ordered_box(ctx: click.Context, param: click.Parameter, value: str | None) -> Box | None:
    """--box as x0,y0,x1,y1; corners given the other way round are swapped, and the user told."""
    if not value:
        return None
    x0, y0, x1, y1 = parse_box(value)
    box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    if box != (x0, y0, x1, y1):
        click.echo(f"note: --box {value}: corners reversed; using {','.join(f'{v:g}' for v in box)}", err=True)
    return box


box_option = click.option(
    "--box", callback=ordered_box,
    help="Crop the query first: x0,y0,x1,y1 in pixels, or fractions in [0,1] (top-left corner first; "
         "corners given the other way round are swapped, with a note on stderr).",
)


@cli.command()
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=False)
@click.option("-k", "k", type=click.IntRange(1, 1000), default=10, show_default=True, help="Products to return.")
@click.option("--where", help="Filter on product fields, e.g. \"category = 'Milk' and price < 3\" (docs/filters.md).")
@box_option
@click.option("--text", help="Text query: alone, or fused with the photo (see docs/text-and-duplicates.md).")
@click.option("--fusion", type=click.Choice(["blend", "rrf"]), default="blend", show_default=True,
              help="How photo and text rankings are fused.")
@click.option("--mode", type=click.Choice(["auto", "keyword", "semantic", "text"]), default="auto", show_default=True,
              help="Text-only queries: keyword (FTS5), semantic, text (both) or auto (both + image bridge).")
@format_option
@catalog_options
def search(state: State, image: Path | None, k: int, where: str | None, box, text: str | None, fusion: str,
           mode: str, fmt: str) -> None:
    """Find the catalogue products that look most like a photo, match a text, or both."""
    if image is None and text is None:
        raise click.UsageError("give a photo, --text, or both")
    with state.open() as catalog:
        if image is None:
            hits = catalog.search_text(text, k=k, where=where, mode=mode)
        else:
            hits = catalog.search(image, k=k, where=where, box=box, text=text, fusion=fusion)
    label = " + ".join(q for q in (image.name if image else None, repr(text) if text else None) if q)
    document = {"query": str(image) if image else None, "text": text, "results": [h.to_dict() for h in hits]}
    _emit_hits(fmt, hits, f"{label}: top {len(hits)}", document)


@cli.command()
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-k", "k", type=click.IntRange(1, 100), default=5, show_default=True, help="Candidates to show.")
@box_option
@format_option
@catalog_options
def recognize(state: State, image: Path, k: int, box, fmt: str) -> None:
    """Say which product a photo shows, or "unknown" when nothing matches well enough.

    CSV, TSV and JSON lines give one verdict row; JSON adds the ranked candidates.
    """
    with state.open() as catalog:
        result = catalog.recognize(image, k=k, box=box)
    emit(fmt, [_verdict(image, result)], columns=VERDICT_COLUMNS, show=lambda: _show_verdict(result),
         document=result.to_dict())


def _verdict(image: Path, result: Recognition) -> dict:
    product = result.product
    return {"query": str(image), "known": result.known, "product_id": product.id if product else None,
            "title": product.title if product else None, "confidence": round(result.confidence, 6),
            "threshold": round(result.threshold, 6), "similarity": round(result.score, 6), "decision": result.decision,
            "category": result.category, "category_confidence": round(result.category_confidence, 6)}


def _show_verdict(result: Recognition) -> None:
    click.echo(result.decision)
    if result.product is not None:
        click.echo(f"product: {result.product.title}")
    else:
        if result.candidates:
            closest = result.candidates[0].product
            click.echo(f"closest: {closest.id}: {closest.title}")
    if result.category:
        click.echo(f"category: {result.category} ({result.category_confidence:.2f})")


@cli.command()
@click.argument("product_id")
@click.option("-k", "k", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--where", help="Filter on product fields (docs/filters.md).")
@format_option
@catalog_options
def similar(state: State, product_id: str, k: int, where: str | None, fmt: str) -> None:
    """Products that look like a given product."""
    with state.open() as catalog:
        hits = catalog.similar(product_id, k=k, where=where)
    _emit_hits(fmt, hits, f"similar to {product_id}", {"product": product_id, "results": [h.to_dict() for h in hits]})


def _emit_hits(fmt: str, hits: list[ProductHit], title: str, document: dict) -> None:
    emit(fmt, [h.to_dict() for h in hits], columns=HIT_COLUMNS, show=lambda: show_table(hits_table(hits, title)),
         document=document)
