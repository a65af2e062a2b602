"""Commands that query the catalogue: search, recognize, similar."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..catalog.queries import is_batch_source, read_query_photos
from ..errors import BoxError
from ..ranking import Box, parse_box
from ..results import ProductHit, Recognition
from .formats import delimited, emit, format_option
from .main import State, catalog_options, cli
from .objects import emit_objects
from .output import hits_table, print_json, show_table

HIT_COLUMNS = ("rank", "score", "id", "title", "category", "image_id")
VERDICT_COLUMNS = ("query", "known", "product_id", "title", "confidence", "threshold", "similarity", "decision",
                   "category", "category_confidence")


def ordered_box(ctx: click.Context, param: click.Parameter, value: str | None) -> Box | None:
    """--box as x0,y0,x1,y1; corners given the other way round are swapped, and the user told."""
    if not value:
        return None
    try:
        x0, y0, x1, y1 = parse_box(value)
    except BoxError as exc:
        raise click.BadParameter(str(exc)) from exc  # a usage error: exit 2
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
@click.argument("image", type=click.Path(exists=True, path_type=Path), required=False)
@click.option("-k", "k", type=click.IntRange(1, 1000), default=10, show_default=True, help="Products to return.")
@click.option("--where", help="Filter on product fields, e.g. \"category = 'Milk' and price < 3\" (docs/filters.md).")
@box_option
@click.option("--text", help="Text query: alone, or fused with the photo (see docs/text-and-duplicates.md).")
@click.option("--fusion", type=click.Choice(["blend", "rrf"]), default="blend", show_default=True,
              help="How photo and text rankings are fused.")
@click.option("--mode", type=click.Choice(["auto", "keyword", "semantic", "text"]), default="auto", show_default=True,
              help="Text-only queries: keyword (FTS5), semantic, text (both) or auto (both + image bridge).")
@click.option("--objects", is_flag=True,
              help="Detect the products in the photo and search each one (a table per object; see docs/detection.md).")
@click.option("--max-objects", type=click.IntRange(1, 100), default=20, show_default=True,
              help="With --objects: search at most this many detected products.")
@format_option
@catalog_options
def search(state: State, image: Path | None, k: int, where: str | None, box, text: str | None, fusion: str,
           mode: str, objects: bool, max_objects: int, fmt: str) -> None:
    """Find the catalogue products that look most like a photo, match a text, or both.

    IMAGE may also be a folder of photos, a list file (.txt, one path a line) or a CSV/JSONL with
    an image column: every photo is searched with one model load and batched embedding, one
    answer per photo (`--format jsonl`: one line each; CSV: a `query` column). With --objects,
    every product the detector finds in the photo is searched on its own.
    """
    if image is None and text is None:
        raise click.UsageError("give a photo, --text, or both")
    if image is not None and is_batch_source(image):
        if text or box or objects:
            raise click.UsageError("a batch of photos takes no --text, --box or --objects")
        _search_batch(state, read_query_photos(image), k, where, fmt)
        return
    if objects:
        if image is None or text is not None:
            raise click.UsageError("--objects searches a photo's products: give a photo and no --text")
        with state.open() as catalog:
            found = catalog.search_objects(image, k=k, where=where, box=box, max_objects=max_objects)
        emit_objects(fmt, image, found)
        return
    with state.open() as catalog:
        if image is None:
            hits = catalog.search_text(text, k=k, where=where, mode=mode)
        else:
            hits = catalog.search(image, k=k, where=where, box=box, text=text, fusion=fusion)
    label = " + ".join(q for q in (image.name if image else None, repr(text) if text else None) if q)
    document = {"query": str(image) if image else None, "text": text, "results": [h.to_dict() for h in hits]}
    _emit_hits(fmt, hits, f"{label}: top {len(hits)}", document)


@cli.command()
@click.argument("image", type=click.Path(exists=True, path_type=Path))
@click.option("-k", "k", type=click.IntRange(1, 100), default=5, show_default=True, help="Candidates to show.")
@box_option
@format_option
@catalog_options
def recognize(state: State, image: Path, k: int, box, fmt: str) -> None:
    """Say which product a photo shows, or "unknown" when nothing matches well enough.

    CSV, TSV and JSON lines give one verdict row; JSON adds the ranked candidates. IMAGE may also
    be a folder of photos, a list file (.txt) or a CSV/JSONL with an image column: every photo is
    recognised with one model load and batched embedding, one verdict per photo (a JSON line each).
    """
    if is_batch_source(image):
        if box:
            raise click.UsageError("a batch of photos takes no --box")
        _recognize_batch(state, read_query_photos(image), k, fmt)
        return
    with state.open() as catalog:
        result = catalog.recognize(image, k=k, box=box)
    emit(fmt, [_verdict(image, result)], columns=VERDICT_COLUMNS, show=lambda: _show_verdict(result),
         document=result.to_dict())


def _recognize_batch(state: State, photos: list[Path], k: int, fmt: str) -> None:
    """Recognise every photo: a verdict or a JSON line per photo as it comes; JSON, CSV and TSV at the end."""
    rows, documents, failed = [], [], 0
    with state.open() as catalog:
        for verdict in catalog.recognition.recognize_many(photos, k=k):
            if verdict.result is None:
                failed += 1
                row = {"query": verdict.query, "error": verdict.error, "reason": verdict.reason}
                document = row
            else:
                row = _verdict(Path(verdict.query), verdict.result)
                document = {"query": verdict.query, **verdict.result.to_dict()}
            if fmt == "jsonl":
                click.echo(json.dumps(row, ensure_ascii=False, default=str))
            elif fmt == "table":
                click.echo(f"{verdict.query}: ", nl=False)
                if verdict.result is None:
                    click.echo(f"[{verdict.reason}] {verdict.error}")
                else:
                    _show_verdict(verdict.result)
            rows.append(row)
            documents.append(document)
    if fmt in ("json", "csv", "tsv"):
        emit(fmt, rows, columns=VERDICT_COLUMNS, show=lambda: None, document=documents)
    if failed:
        raise click.ClickException(f"{failed} of {len(photos)} photo(s) could not be recognised (see their errors)")


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
@click.option("--blend", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Mix in \"often bought with\" from shoppers' interactions: 0 looks only, 1 purchases only.")
@format_option
@catalog_options
def similar(state: State, product_id: str, k: int, where: str | None, blend: float, fmt: str) -> None:
    """Products that look like a given product (and, with --blend, that are bought with it)."""
    with state.open() as catalog:
        hits = catalog.similar(product_id, k=k, where=where, blend=blend)
    _emit_hits(fmt, hits, f"similar to {product_id}", {"product": product_id, "results": [h.to_dict() for h in hits]})


def _search_batch(state: State, photos: list[Path], k: int, where: str | None, fmt: str) -> None:
    """Search every photo: a table or a JSON line per photo as it comes; JSON, CSV and TSV at the end."""
    documents, rows, failed = [], [], 0
    with state.open() as catalog:
        for answer in catalog.search_many(photos, k=k, where=where):
            failed += answer.error is not None
            if fmt == "jsonl":
                click.echo(json.dumps(answer.to_dict(), ensure_ascii=False, default=str))
            elif fmt == "table":
                _show_answer(answer)
            documents.append(answer.to_dict())
            rows += [{"query": answer.query, **h.to_dict()} for h in answer.hits] or [
                {"query": answer.query, "error": answer.error}]
    if fmt == "json":
        print_json(documents)
    elif fmt in ("csv", "tsv"):
        click.echo(delimited(rows, ("query", *HIT_COLUMNS), "," if fmt == "csv" else "\t"), nl=False)
    if failed:
        raise click.ClickException(f"{failed} of {len(photos)} photo(s) could not be searched (see their errors)")


def _show_answer(answer) -> None:
    if answer.error is not None:
        click.echo(f"{answer.query}: [{answer.reason}] {answer.error}")
    else:
        show_table(hits_table(answer.hits, f"{Path(answer.query).name}: top {len(answer.hits)}"))


def _emit_hits(fmt: str, hits: list[ProductHit], title: str, document: dict) -> None:
    emit(fmt, [h.to_dict() for h in hits], columns=HIT_COLUMNS, show=lambda: show_table(hits_table(hits, title)),
         document=document)
