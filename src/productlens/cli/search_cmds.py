"""Commands that query the catalogue: search, recognize, similar."""

from __future__ import annotations

from pathlib import Path

import click

from ..ranking import parse_box
from .main import State, cli
from .output import console, hits_table, print_json

pass_state = click.make_pass_decorator(State)

box_option = click.option(
    "--box", callback=lambda ctx, param, v: parse_box(v) if v else None,
    help="Crop the query first: x0,y0,x1,y1 in pixels, or fractions in [0,1].",
)


@cli.command()
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=False)
@click.option("-k", "k", type=click.IntRange(1, 1000), default=10, show_default=True, help="Products to return.")
@click.option("--where", help="Filter on product fields, e.g. \"category = 'Milk' and price < 3\".")
@box_option
@click.option("--text", help="Text query: alone, or fused with the photo (see docs/text-and-duplicates.md).")
@click.option("--fusion", type=click.Choice(["blend", "rrf"]), default="blend", show_default=True,
              help="How photo and text rankings are fused.")
@click.option("--mode", type=click.Choice(["auto", "keyword", "semantic", "text"]), default="auto", show_default=True,
              help="Text-only queries: keyword (FTS5), semantic, text (both) or auto (both + image bridge).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def search(state: State, image: Path | None, k: int, where: str | None, box, text: str | None, fusion: str,
           mode: str, as_json: bool) -> None:
    """Find the catalogue products that look most like a photo, match a text, or both."""
    if image is None and text is None:
        raise click.UsageError("give a photo, --text, or both")
    with state.open() as catalog:
        if image is None:
            hits = catalog.search_text(text, k=k, where=where, mode=mode)
        else:
            hits = catalog.search(image, k=k, where=where, box=box, text=text, fusion=fusion)
    label = " + ".join(q for q in (image.name if image else None, repr(text) if text else None) if q)
    if as_json:
        print_json({"query": str(image) if image else None, "text": text, "results": [h.to_dict() for h in hits]})
    else:
        console.print(hits_table(hits, title=f"{label}: top {len(hits)}"))


@cli.command()
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-k", "k", type=click.IntRange(1, 100), default=5, show_default=True, help="Candidates to show.")
@box_option
@click.option("--json", "as_json", is_flag=True)
@pass_state
def recognize(state: State, image: Path, k: int, box, as_json: bool) -> None:
    """Say which product a photo shows, or "unknown" when nothing matches well enough."""
    with state.open() as catalog:
        result = catalog.recognize(image, k=k, box=box)
    if as_json:
        print_json(result.to_dict())
        return
    if result.product is not None:
        console.print(
            f"{result.product.id}: {result.product.title} "
            f"(confidence {result.confidence:.2f}, score {result.score:.3f} >= {result.threshold:.3f})",
            highlight=False,
        )
    else:
        console.print(f"unknown (best score {result.score:.3f} < threshold {result.threshold:.3f})", highlight=False)
        if result.candidates:
            closest = result.candidates[0].product
            console.print(f"closest: {closest.id}: {closest.title}", highlight=False)
    if result.category:
        console.print(f"category: {result.category} ({result.category_confidence:.2f})", highlight=False)


@cli.command()
@click.argument("product_id")
@click.option("-k", "k", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--where")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def similar(state: State, product_id: str, k: int, where: str | None, as_json: bool) -> None:
    """Products that look like a given product."""
    with state.open() as catalog:
        hits = catalog.similar(product_id, k=k, where=where)
    if as_json:
        print_json({"product": product_id, "results": [h.to_dict() for h in hits]})
    else:
        console.print(hits_table(hits, title=f"similar to {product_id}"))
