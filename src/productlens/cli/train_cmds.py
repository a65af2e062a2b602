"""Commands that train and evaluate: train, eval, models, models use."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from ..catalog.ingest import read_source
from ..evaluation.evaluate import evaluate
from ..evaluation.report import MAIN_METRICS, write_report
from ..training import TrainConfig
from ..training import train as run_training
from .formats import emit, format_option
from .main import State, catalog_options, cli
from .output import console, err_console, print_json, show_table


def _say(state: State):
    return (lambda msg: None) if state.quiet else (lambda msg: err_console.print(msg, highlight=False))


@cli.command()
@click.option("--recipe", type=click.Choice(["head", "full"]), default="head", show_default=True,
              help="head: frozen backbone, cached features (minutes on a CPU); full: fine-tune the backbone too.")
@click.option("--backbone", help="Network to train on (default: the catalogue's model); NAME@SIZE feeds it SIZE-pixel "
              "crops, e.g. efficientnet-lite2@320 (slower, more accurate: docs/training.md).")
@click.option("--crop", type=click.FloatRange(0.2, 1.0), default=0.65, show_default=True,
              help="Centre crop the version keeps, as a fraction of the shorter side (the backbone's own is 0.875).")
@click.option("--tta", "flip_tta", is_flag=True,
              help="The version embeds every image and its mirror image and averages them (x2 inference, more accurate).")
@click.option("--epochs", type=click.IntRange(1, 1000), help="Default 30 (head) / 5 (full); early stopping may end sooner.")
@click.option("--optimizer", type=click.Choice(["sgd", "adam", "adamw"]), default="adamw", show_default=True)
@click.option("--lr", type=float, help="Peak learning rate (default 3e-3 head / 3e-4 full).")
@click.option("--weight-decay", type=float, default=1e-4, show_default=True)
@click.option("--batch-size", type=click.IntRange(1, 4096), default=128, show_default=True)
@click.option("--label-smoothing", type=click.FloatRange(0, 0.5), default=0.1, show_default=True)
@click.option("--loss", type=click.Choice(["norm-softmax", "arcface"]), default="norm-softmax", show_default=True)
@click.option("--dim", type=click.IntRange(8, 4096), default=512, show_default=True, help="Embedding width.")
@click.option("--hidden", type=click.IntRange(0, 8192), default=1024, show_default=True,
              help="Hidden layer width of the head (0 = linear projection).")
@click.option("--views", type=click.IntRange(1, 32), default=6, show_default=True,
              help="head recipe: cached views per image (1 plain + augmented).")
@click.option("--patience", type=click.IntRange(1, 1000), default=8, show_default=True, help="Early-stopping patience (epochs).")
@click.option("--val", "val_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Labelled validation photos (ingest CSV/JSONL); default: carved out of the catalogue.")
@click.option("--max-images", type=click.IntRange(1), help="full recipe: train on a random subset.")
@click.option("--int8", is_flag=True, help="Also quantise the exported version to INT8.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--use", "use_now", is_flag=True, help="Activate the new version right away (re-embeds the catalogue).")
@click.option("--json", "as_json", is_flag=True)
@catalog_options
def train(state: State, recipe, backbone, crop, flip_tta, epochs, optimizer, lr, weight_decay, batch_size,
          label_smoothing, loss, dim, hidden, views, patience, val_csv, max_images, int8, seed, use_now, as_json) -> None:
    """Learn from the catalogue's product ids (and categories); saves a new model version."""
    config = TrainConfig(recipe=recipe, backbone=backbone, crop=crop, flip_tta=flip_tta, epochs=epochs,
                         optimizer=optimizer, lr=lr, weight_decay=weight_decay, batch_size=batch_size,
                         label_smoothing=label_smoothing, loss=loss, dim=dim, hidden=hidden, views=views,
                         patience=patience, max_images=max_images, seed=seed, precision="int8" if int8 else "fp32")
    val_items = list(read_source(val_csv)) if val_csv else None
    say = _say(state) if not as_json else (lambda m: None)
    with state.open() as catalog:
        result = run_training(catalog, config, val_items=val_items, progress=say)
        out = {"version": result.version, "seconds": round(result.seconds, 1), "metrics": result.metrics}
        if use_now:
            out["activation"] = catalog.activate_model(result.version).to_dict()
    if as_json:
        print_json(out)
        return
    m = result.metrics
    console.print(f"trained {result.version} in {result.seconds:.0f}s ({m.get('epochs_run')} epochs)", highlight=False)
    if m.get("val_r1") is not None:
        console.print(f"validation R@1 {m.get('val_r1_untrained') or float('nan'):.3f} -> {m['val_r1']:.3f}, "
                      f"classifier top-1 {m.get('val_cls_acc', float('nan')):.3f}, recognition: {m['recognition_mode']}",
                      highlight=False)
    if not use_now:
        console.print(f"activate it with: productlens --catalog {state.path()} models use {result.version.split('/')[1]}",
                      highlight=False)


@cli.command("eval")
@click.option("--queries", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="Labelled query photos (ingest CSV/JSONL: product_id, image).")
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write report.html, PNG plots and metrics.json here.")
@click.option("--baselines", default="colour-histogram,off-the-shelf,small-cnn", show_default=True,
              help="Comma-separated baselines measured in the same run ('' for none).")
@click.option("--cnn-epochs", type=click.IntRange(1, 500), default=10, show_default=True)
@click.option("--catalog-images", "pattern", default=None,
              help="Also score matching against only the catalogue images whose path contains this text "
                   "(e.g. _Iconic for the Grocery Store's product shots).")
@format_option
@catalog_options
def eval_cmd(state: State, queries: Path, report_dir: Path | None, baselines: str, cnn_epochs: int,
             pattern: str | None, fmt: str) -> None:
    """Measure retrieval and recognition on labelled photos, with baselines, and write a report.

    CSV, TSV and JSON lines give one row per method; JSON is the whole metrics.json.
    """
    items = list(read_source(queries))
    chosen = [b.strip() for b in baselines.split(",") if b.strip()]
    with state.open() as catalog:
        result = evaluate(catalog, items, baselines=chosen, catalog_image_pattern=pattern or None,
                          cnn_epochs=cnn_epochs, progress=_say(state) if fmt == "table" else None)
        model = catalog.active_model
        curves = catalog.models_dir / model.version / "curves.png" if model and model.info.get("onnx") else None
    if report_dir is not None:
        write_report(result, report_dir, curves=curves)
    methods = result.metrics["methods"]
    columns = ("method", *[k for k in MAIN_METRICS if any(k in v for v in methods.values())])
    emit(fmt, [{"method": name, **values} for name, values in methods.items()], columns=columns,
         show=lambda: _show_eval(result.metrics, report_dir), document=result.metrics)


def _show_eval(metrics: dict, report_dir: Path | None) -> None:
    show_table(metrics_table(metrics))
    if report_dir is not None:
        click.echo(f"report: {report_dir / 'report.html'}")


def metrics_table(metrics: dict) -> Table:
    methods = metrics["methods"]
    cols = [k for k in MAIN_METRICS if any(k in v for v in methods.values())]
    table = Table(title=f"{metrics['queries']} queries, {metrics['gallery_images']} catalogue images")
    table.add_column("method")
    for c in cols:
        table.add_column(c, justify="right")
    for name, v in methods.items():
        table.add_row(name, *[f"{v[c]:.3f}" if c in v else "-" for c in cols])
    return table


@cli.group(invoke_without_command=True)
@format_option
@catalog_options
@click.pass_context
def models(ctx: click.Context, state: State, fmt: str) -> None:
    """List the catalogue's model versions and which one is active."""
    if ctx.invoked_subcommand is not None:
        return
    with state.open() as catalog:
        rows = catalog.model_versions()
    emit(fmt, rows, columns=("active", "version", "recipe", "precision", "dim", "embedded_images", "val_r1",
                             "val_cls_acc", "created_at", "key"), show=lambda: show_table(_versions_table(rows)))


def _versions_table(rows: list[dict]) -> Table:
    table = Table()
    for col in ("", "version", "recipe", "precision", "dim", "embedded", "val R@1", "val top-1", "created"):
        table.add_column(col)
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    for r in rows:
        table.add_row("*" if r["active"] else "", r["version"], r["recipe"], r["precision"], str(r["dim"]),
                      str(r["embedded_images"]), fmt(r["val_r1"]), fmt(r["val_cls_acc"]), r["created_at"])
    return table


@models.command("use")
@click.argument("version")
@click.option("--allow-missing", is_flag=True, help="Switch even if some images cannot be embedded (their files are gone).")
@click.option("--json", "as_json", is_flag=True)
@catalog_options
def models_use(state: State, version: str, allow_missing: bool, as_json: bool) -> None:
    """Make VERSION active (roll back or forward): embeds what it lacks, then switches atomically."""
    with state.open() as catalog:
        report = catalog.activate_model(version, allow_missing=allow_missing)
    if as_json:
        print_json(report.to_dict())
        return
    console.print(f"active model: {report.key} ({report.embedded} embedded, {report.reused} reused, "
                  f"{report.seconds:.1f}s)", highlight=False)
    for src in report.missing_sources[:10]:
        console.print(f"  missing source file: {src}", highlight=False)
    for msg in report.failed[:10]:
        console.print(f"  failed: {msg}", highlight=False)
