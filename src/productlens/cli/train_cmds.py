"""Commands that train and evaluate: train, eval, models, models use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from ..catalog.ingest import read_source
from ..errors import ActivationRefusedError
from ..evaluation.report import MAIN_METRICS, write_report
from ..recognition import RECORD, Calibration, Recognizer
from ..results import ActivationReport
from ..models.cut import CUTS
from ..training import RECIPES, TrainConfig
from ..training.stage_clock import AUTO
from .catalog_cmds import calibration_lines
from .formats import emit, emit_record, format_option
from .main import State, catalog_options, cli
from .output import err_console, show_table


def _say(state: State):
    return (lambda msg: None) if state.quiet else (lambda msg: err_console.print(msg, highlight=False))


@cli.command()
@click.option("--recipe", type=click.Choice(RECIPES),
              help="head: frozen backbone, cached features (minutes on a CPU); partial: also the backbone's last "
                   "stages, on cached activations; full: fine-tune the backbone's last stages on images. Default: "
                   "head, then partial at the deepest cut the budget allows (the better one on validation).")
@click.option("--cut", type=click.Choice(list(CUTS)),
              help="partial recipe: where the network is cut (deep / mid / shallow: after Lite0's blocks 8 / 11 / 14). "
                   "Default: mid with --recipe partial; chosen by the budget otherwise.")
@click.option("--backbone", help="Network to train on, NAME or NAME@SIZE (e.g. efficientnet-lite2@320). "
              "Default: the catalogue's model or efficientnet-lite2@320, whichever validates better in the budget.")
@click.option("--crop", type=click.FloatRange(0.2, 1.0),
              help="Centre crop the version keeps, as a fraction of the shorter side (0.875: the backbones' own; "
                   "1: the whole shorter side). Default: 0.875, 0.65 or 1, whichever validates best.")
@click.option("--tta/--no-tta", "flip_tta", default=None,
              help="The version embeds every image and its mirror image and averages them (x2 inference). "
                   "Default: on only if it validates clearly better.")
@click.option("--hidden", type=click.IntRange(0, 8192),
              help="Hidden layer width of the head (0 = linear projection). Default: 1024 or 0, whichever validates better.")
@click.option("--budget", default="auto", show_default=True,
              help="Time for choosing the open settings and training, with a unit: 20m, 900s, 1h, or 'none' for no "
                   "limit; auto: 10 minutes up to 1,500 photos, growing to 20 minutes at 2,721 and more.")
@click.option("--epochs", type=click.IntRange(1, 1000), help="Default 30 (head) / 5 (full); early stopping may end sooner.")
@click.option("--optimizer", type=click.Choice(["sgd", "adam", "adamw"]), default="adamw", show_default=True)
@click.option("--lr", type=float, help="Peak learning rate (default 3e-3 head / 3e-4 full).")
@click.option("--weight-decay", type=float, default=1e-4, show_default=True)
@click.option("--batch-size", type=click.IntRange(1, 4096), default=128, show_default=True)
@click.option("--label-smoothing", type=click.FloatRange(0, 0.5), default=0.1, show_default=True)
@click.option("--loss", type=click.Choice(["norm-softmax", "arcface"]), default="norm-softmax", show_default=True)
@click.option("--dim", type=click.IntRange(8, 4096), default=512, show_default=True, help="Embedding width.")
@click.option("--views", type=click.IntRange(1, 32), default=6, show_default=True,
              help="head recipe: cached views per image (1 plain + augmented); fewer if the budget runs short.")
@click.option("--patience", type=click.IntRange(1, 1000), default=8, show_default=True, help="Early-stopping patience (epochs).")
@click.option("--val", "val_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Labelled validation photos (ingest CSV/JSONL); default: burst groups held out of the catalogue.")
@click.option("--max-images", type=click.IntRange(1), help="full recipe: train on a random subset.")
@click.option("--int8", is_flag=True, help="Also quantise the exported version to INT8.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--use", "use_now", is_flag=True,
              help="Activate the new version if it beats the active one on the same validation photos.")
@click.option("--force", is_flag=True, help="With --use: activate even if it is not shown to be better.")
@format_option
@catalog_options
def train(state: State, budget: str, val_csv: Path | None, int8: bool, use_now: bool, force: bool, fmt: str,
          **settings: Any) -> None:
    """Learn from the catalogue's product ids (and categories); saves a new model version.

    Settings left open are chosen on validation photos held out of the catalogue in whole burst
    groups (or on --val photos), within --budget; the new version is compared with the active
    model on the same photos, and --use activates it only if it is better (or with --force).
    CSV, TSV and JSON lines give the result as one row.
    """
    config = TrainConfig(**settings, precision="int8" if int8 else "fp32")  # every other option is a TrainConfig field
    val_items = list(read_source(val_csv)) if val_csv else None
    say = _say(state) if fmt == "table" else (lambda m: None)
    with state.open() as catalog:
        result = catalog.train(config, val_items=val_items, time_limit_s=parse_duration(budget), progress=say)
        out = {"version": result.version, "seconds": round(result.seconds, 1), "metrics": result.metrics,
               "comparison": result.comparison.to_dict() if result.comparison else None,
               "candidates": [t.to_dict() for t in result.trials], "notes": result.notes}
        recognition = next((c.value for c in catalog.recognition.calibrations(result.version) if c.name == RECORD), None)
        if use_now:
            try:
                out["activation"] = catalog.versions.activate(result.version, force=force).to_dict()
            except ActivationRefusedError as exc:
                out["activation"] = {"switched": False, "reason": str(exc)}
    calibration = Recognizer.from_dict(recognition).calibration if recognition else None
    emit_record(fmt, out, show=lambda: _print_training(state, result, out.get("activation"), use_now, calibration))


def _print_training(state: State, result, activation: dict | None, use_now: bool,
                    calibration: Calibration | None = None) -> None:
    m = result.metrics
    say = click.echo
    say(f"trained {result.version} in {result.seconds:.0f}s ({m.get('epochs_run')} epochs; "
        f"validation: {m.get('validation')})")
    for trial in result.trials:
        score = f"{trial.score:.3f}" if trial.score is not None else "-"
        say(f"  tried {trial.setting.label():60s} {score}  {trial.note}".rstrip())
    cmp = result.comparison
    if cmp is not None and cmp.before is not None and cmp.after is not None:
        b, a = cmp.before, cmp.after
        say(f"on the same {cmp.photos} validation photos, before -> after: retrieval R@1 {b.r1:.3f} -> {a.r1:.3f}, "
            f"mAP {b.mAP:.3f} -> {a.mAP:.3f}; recognition top-1 {b.top1:.3f} -> {a.top1:.3f}, right answers accepted "
            f"{b.accepted:.3f} -> {a.accepted:.3f}, unknown products rejected {b.rejected:.3f} -> {a.rejected:.3f}")
    for note in result.notes:
        say(f"note: {note}")
    if activation is not None:
        say(f"active model: {result.version}" if activation.get("switched") else str(activation.get("reason")))
    elif not use_now and cmp is not None and cmp.better:
        say(f"activate it with: productlens --catalog {state.path()} models use {result.version.split('/')[1]}")
    if calibration is not None and calibration.fitted:
        for line in calibration_lines(calibration):
            say(line)
        say("  (validation photos of products the version learnt: products it never saw are rejected less "
            "often; see docs/recognition.md)")


def parse_duration(text: str) -> float | str | None:
    """'10m', '900s', '1.5h' -> seconds; 'none' -> None (no limit); 'auto' stays 'auto' (train scales
    it with the catalogue). A bare number is refused: `--budget 2` read as 2 seconds skipped every
    setting, where 2 minutes was meant."""
    text = text.strip().lower()
    if text == AUTO:
        return AUTO
    if text in ("none", "off", "unlimited"):
        return None
    if text[-1:] not in ("s", "m", "h"):
        raise click.BadParameter(f"{text!r}: give a unit, e.g. {text}m or {text}s (or 'none' for no limit)")
    scale = {"s": 1.0, "m": 60.0, "h": 3600.0}[text[-1:]]
    number = text[:-1]
    try:
        seconds = float(number) * scale
    except ValueError:
        raise click.BadParameter(f"{text!r}: expected a duration like 10m, 900s or 1h, or 'none'") from None
    if seconds <= 0:
        raise click.BadParameter("the budget must be positive (or 'none')")
    return seconds


@cli.command("eval")
@click.option("--queries", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="Labelled query photos (ingest CSV/JSONL: product_id, image).")
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write report.html, PNG plots and metrics.json here.")
@click.option("--model", "version", help="Evaluate this model version (not activated), beside the active one.")
@click.option("--baselines", default="colour-histogram,off-the-shelf,small-cnn", show_default=True,
              help="Comma-separated baselines measured in the same run ('' for none).")
@click.option("--cnn-epochs", type=click.IntRange(1, 500), default=10, show_default=True)
@click.option("--catalog-images", "pattern", default=None,
              help="Also score matching against only the catalogue images whose path contains this text. Default: "
                   "product shots found by file name (_Iconic, as Grocery's, or packshot) when the catalogue has "
                   "them beside photos; '' for none.")
@format_option
@catalog_options
def eval_cmd(state: State, queries: Path, report_dir: Path | None, version: str | None, baselines: str,
             cnn_epochs: int, pattern: str | None, fmt: str) -> None:
    """Measure retrieval and recognition on labelled photos, with baselines, and write a report.

    With --model, that version is measured beside the active one, in the same run, without
    being activated. CSV, TSV and JSON lines give one row per method; JSON is the whole metrics.json.
    """
    items = list(read_source(queries))
    chosen = [b.strip() for b in baselines.split(",") if b.strip()]
    with state.open() as catalog:
        result = catalog.evaluate(items, version=version, baselines=chosen, catalog_image_pattern=pattern,
                          cnn_epochs=cnn_epochs, progress=_say(state) if fmt == "table" else None)
        model = catalog.versions.view(version).record if version else catalog.versions.active
        history = catalog.versions.training_history(model)
    if report_dir is not None:
        write_report(result, report_dir, history=history)
    for left_out in result.metrics["skipped_queries"]:  # never dropped without a word
        click.echo(f"skipped query {left_out['image'] or left_out['product_id']}: {left_out['reason']}", err=True)
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
        rows = catalog.versions.describe()
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
@click.option("--force", is_flag=True, help="Switch even if VERSION is not shown to beat the active one.")
@format_option
@catalog_options
def models_use(state: State, version: str, allow_missing: bool, force: bool, fmt: str) -> None:
    """Make VERSION active (roll back or forward) if it beats the active one on the same validation
    photos (or with --force): embeds what it lacks, switches atomically, then recalibrates for it."""
    with state.open() as catalog:
        report = catalog.versions.activate(version, allow_missing=allow_missing, force=force)
    emit_record(fmt, report.to_dict(), show=lambda: _show_activation(report))


def _show_activation(report: ActivationReport) -> None:
    say = click.echo
    if not report.switched:
        say(f"{report.key} is already the active model")
        return
    say(f"active model: {report.key} ({report.embedded} embedded, {report.reused} reused, {report.seconds:.1f}s)")
    cmp = report.comparison or {}
    if cmp.get("before") and cmp.get("after"):
        say(f"validation score {cmp['before']['score']:.3f} -> {cmp['after']['score']:.3f} on {cmp['photos']} photos"
            f" ({cmp['verdict']})")
    for item in report.recalibrated:
        old = item.get("old")
        change = "" if "new" not in item else f": {item['new']} (fitted for it)" if old is None else f": {old} -> {item['new']}"
        say(f"  {item['name']}{' (stale)' if item.get('stale') else ''}{change}; {item['note']}")
    for src in report.missing_sources[:10]:
        say(f"  missing source file: {src}")
    for msg in report.failed[:10]:
        say(f"  failed: {msg}")
