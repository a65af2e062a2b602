"""Commands for shopper interactions and recommendations: `interactions add|info|remove`,
`recommend` (for a user, a basket, a product), `recommend fit`, `recommend eval`."""

from __future__ import annotations

from pathlib import Path

import click

from ..catalog.interactions import DEFAULT_WEIGHTS
from .formats import emit, format_option
from .main import State, catalog_options, cli
from .output import hits_table, make_progress, print_json, show_table
from .train_cmds import parse_duration

HIT_COLUMNS = ("rank", "score", "id", "title", "category", "image_id")
MODEL_COLUMNS = ("model", "hr@10", "ndcg@10", "hr@10_all_items", "ndcg@10_all_items", "fit_seconds", "p50_ms")


def parse_weights(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, float]:
    """--weight purchase=5 (repeatable) -> {"purchase": 5.0}."""
    out = {}
    for value in values:
        event, _, number = value.partition("=")
        try:
            out[event.strip()] = float(number)
        except ValueError:
            raise click.BadParameter(f"{value!r}: expected EVENT=NUMBER, e.g. purchase=5") from None
        if not event.strip() or out[event.strip()] < 0:
            raise click.BadParameter(f"{value!r}: expected EVENT=NUMBER with a non-negative number")
    return out


@cli.group()
def interactions() -> None:
    """What shoppers did (views, carts, purchases), the data recommendations learn from."""


@interactions.command("add")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--known-only", is_flag=True, help="Skip rows naming products not in the catalogue (default: create them).")
@click.option("--weight", "weights", multiple=True, callback=parse_weights,
              help="An event's weight, EVENT=NUMBER (repeatable; defaults: "
                   + ", ".join(f"{k}={v:g}" for k, v in DEFAULT_WEIGHTS.items()) + ", any other name 1).")
@format_option
@catalog_options
def interactions_add(state: State, source: Path, known_only: bool, weights: dict[str, float], fmt: str) -> None:
    """Add events from a CSV or JSONL file (columns user_id, product_id, [event, weight, timestamp, basket_id])."""
    with state.open(create=True) as catalog, make_progress(state.quiet or fmt != "table") as bar:
        bar.start(None, f"reading {source.name}")
        report = catalog.add_interactions(source, weights=weights, known_only=known_only,
                                          progress=bar.advance)
    row = report.to_dict()
    emit(fmt, [row], columns=tuple(row), show=lambda: _say_report(row))


def _say_report(row: dict) -> None:
    click.echo(f"{row['added']} interactions added, {row['already_there']} already there, "
               f"{row['products_created']} products created, {row['skipped']} rows skipped")
    for problem in row["problems"]:
        click.echo(f"  {problem}", err=True)


@interactions.command("info")
@format_option
@catalog_options
def interactions_info(state: State, fmt: str) -> None:
    """Counts, date range, users, items and sparsity of the interactions, and the active recommender."""
    with state.open() as catalog:
        info = catalog.recommendations.info()
    emit(fmt, [info], columns=tuple(info), show=lambda: print_json(info))


@interactions.command("remove")
@click.option("--user", required=True, help="The shopper whose interactions are forgotten.")
@format_option
@catalog_options
def interactions_remove(state: State, user: str, fmt: str) -> None:
    """Forget every interaction of one shopper (their right to be forgotten)."""
    with state.open() as catalog:
        removed = catalog.recommendations.remove_user(user)
    row = {"user": user, "removed": removed}
    emit(fmt, [row], columns=tuple(row), show=lambda: click.echo(f"removed {removed} interactions of {user}"))


@cli.group(invoke_without_command=True)
@click.option("--user", help="Recommend for this shopper's history.")
@click.option("--items", help="Recommend for a basket or session: product ids, comma-separated.")
@click.option("--product", help="Products often bought with this one.")
@click.option("-k", "k", type=click.IntRange(1, 1000), default=10, show_default=True, help="Products to return.")
@click.option("--where", help="Filter on product fields, e.g. \"category = 'Milk'\" (docs/filters.md).")
@click.option("--include-seen", is_flag=True, help="Keep products the user already interacted with.")
@format_option
@catalog_options
@click.pass_context
def recommend(ctx: click.Context, state: State, user: str | None, items: str | None, product: str | None, k: int,
              where: str | None, include_seen: bool, fmt: str) -> None:
    """Recommend products for a user, a basket or a product; `recommend fit` and `recommend eval` below."""
    if ctx.invoked_subcommand is not None:
        return
    if sum(x is not None for x in (user, items, product)) != 1:
        raise click.UsageError("give exactly one of --user, --items or --product")
    basket = [i.strip() for i in items.split(",") if i.strip()] if items is not None else None
    with state.open() as catalog:
        hits = catalog.recommend(user=user, items=basket, product=product, k=k, where=where,
                                 exclude_seen=not include_seen)
    label = f"user {user}" if user else f"items {items}" if items else f"often bought with {product}"
    document = {"user": user, "items": basket, "product": product, "results": [h.to_dict() for h in hits]}
    rows = [h.to_dict() for h in hits]
    emit(fmt, rows, columns=HIT_COLUMNS, show=lambda: show_table(hits_table(hits, f"{label}: top {len(hits)}")),
         document=document)


@recommend.command("fit")
@click.option("--model", help="Fit only this model (default: every registered one, the best on validation kept).")
@click.option("--budget", default="10m", show_default=True, help="Time for the whole choice, e.g. 10m, 900s.")
@click.option("--force", is_flag=True, help="Activate the new version even if the active one scores better.")
@format_option
@catalog_options
def recommend_fit(state: State, model: str | None, budget: str, force: bool, fmt: str) -> None:
    """Choose a recommender on the time-ordered validation split and save it as a version."""
    seconds = parse_duration(budget) or 24 * 3600.0
    with state.open() as catalog:
        result = catalog.recommendations.fit(model=model, budget_s=seconds, force=force)
    rows = [{k: v for k, v in c.items() if k != "params"} for c in result["candidates"]]
    emit(fmt, rows, columns=("model", "status", "fit_seconds", "hr@10", "ndcg@10", "users"),
         show=lambda: _say_fit(result), document=result)


def _say_fit(result: dict) -> None:
    for c in result["candidates"]:
        scores = f"HR@10 {c['hr@10']:.4f} NDCG@10 {c['ndcg@10']:.4f}" if "hr@10" in c else ""
        click.echo(f"  {c['model']:<12} {c['status']:<24} {c['fit_seconds']:>7.1f}s  {scores}")
    state = "activated" if result["activated"] else "saved, not activated (the active one scores better; --force)"
    click.echo(f"{result['version']}: {result['model']}, validation NDCG@10 {result['validation_ndcg@10']}, {state}")


@recommend.command("eval")
@click.option("--models", help="Comma-separated model names (default: every registered one).")
@click.option("--budget", default="10m", show_default=True, help="Time for fitting every model, e.g. 10m.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=Path("recommenders.png"),
              show_default=True, help="Where to write the bar chart (PNG).")
@format_option
@catalog_options
def recommend_eval(state: State, models: str | None, budget: str, plot: Path, fmt: str) -> None:
    """Every model side by side, leave-last-out test: HR@10 and NDCG@10 (100 sampled and all items)."""
    seconds = parse_duration(budget) or 24 * 3600.0
    with state.open() as catalog:
        result = catalog.recommendations.evaluate(models=models.split(",") if models else None, budget_s=seconds,
                                                  plot=plot)
    rows = result["models"]
    emit(fmt, rows, columns=MODEL_COLUMNS, show=lambda: _say_eval(result), document=result)


def _say_eval(result: dict) -> None:
    from rich.table import Table

    table = Table(title=f"leave-last-out test, {result['test_users']} users (chosen: {result['chosen']})")
    for column in MODEL_COLUMNS:
        table.add_column(column)
    for row in result["models"]:
        table.add_row(*(str(row[c]) for c in MODEL_COLUMNS))
    show_table(table)
    click.echo(f"plot: {result['plot']}")
