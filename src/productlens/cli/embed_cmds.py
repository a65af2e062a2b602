"""`embed` (a manifest embedded in partitions, here or on Dask / Ray) and `import-shards` (gathering)."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .. import settings
from ..jobs import (RUNNERS, MilvusSink, ModelRef, PartitionFailedError, PartitionReport, RunReport, folder_model_key,
                    iter_shard_rows, parse_shard, read_list, read_skipped, run_job, run_partitions, stream_shards)
from ..models import Embedder, create_embedder
from .formats import emit_record, format_option
from .main import State, catalog_options, cli
from .output import err_console, make_progress, progress_enabled


class PartitionProgress:
    """Partitions done of those to run, and images per second, on stderr (only at a terminal)."""

    def __init__(self, quiet: bool, total: int | None, runner: str) -> None:
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("partitions  {task.fields[images]}"), TimeElapsedColumn(),
                            console=err_console, transient=True) if progress_enabled(quiet) else None
        self.started = time.perf_counter()
        self.images = 0
        if self.bar is not None:
            self.task = self.bar.add_task(f"Embedding on {runner}", total=total, images="")
            self.bar.start()

    def __call__(self, done: PartitionReport, report: RunReport) -> None:
        self.images += done.embedded if not done.already_done else 0
        if self.bar is not None:
            rate = self.images / max(time.perf_counter() - self.started, 1e-9)
            self.bar.update(self.task, advance=1, images=f"{self.images} images, {rate:.1f} img/s")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@cli.command()
@click.argument("manifest")
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the Parquet shards (one per partition); or use --milvus.")
@click.option("--runner", type=click.Choice(RUNNERS), default="local", show_default=True,
              help="local: processes on this machine; dask: dask.distributed; ray: Ray.")
@click.option("--address", help="Scheduler of a running cluster: tcp://host:8786 (dask) or host:6379 / auto (ray). "
                                "Without it dask and ray start a local cluster of --workers processes.")
@click.option("--partitions", type=click.IntRange(min=1), help="Partitions to cut the manifest into "
                                                                "(default: ~1,000 rows each, at least 16).")
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes of a local pool or cluster (default: cores).")
@click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True,
              help="Times a failed partition is run again before it is reported.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Inference threads in each worker process.")
@click.option("--shard", help="This machine's share i/n of the partitions (1-based), to split a run by hand; "
                              "with --milvus, of the list's lines.")
@click.option("--milvus", "milvus_uri", help="Write a list straight into a Milvus collection: milvus://host:port.")
@click.option("--collection", default="productlens_images", show_default=True, help="Milvus collection name.")
@click.option("--model", default=None, help="Embedder (default: the `model` setting).")
@click.option("--precision", type=click.Choice(["fp32", "int8"]), default="fp32", show_default=True)
@format_option
@catalog_options
def embed(state: State, manifest: str, out: Path | None, runner: str, address: str | None, partitions: int | None,
          workers: int | None, retries: int, threads: int, shard: str | None, milvus_uri: str | None, collection: str,
          model: str | None, precision: str, fmt: str) -> None:
    """Embed a manifest's images in partitions: one Parquet shard each, in OUT.

    MANIFEST is a CSV (header naming `image` and `product_id` columns), a JSON-lines file, or a
    list of `path[,product]` lines; local or any path fsspec opens. Re-running skips finished
    partitions. Then `productlens --catalog C import-shards OUT`.
    """
    if (out is None) == (milvus_uri is None):
        raise click.UsageError("give exactly one of --out DIR or --milvus milvus://host:port")
    embedder = create_embedder(model or str(settings.get("model")), precision)
    if milvus_uri is not None:
        _embed_into_milvus(state, embedder, Path(manifest), shard or "1/1", MilvusSink(milvus_uri, collection, embedder.dim),
                           fmt)
        return
    share = parse_shard(shard) if shard else None
    progress = PartitionProgress(state.quiet or fmt != "table", None, runner)
    try:
        report = run_partitions(manifest, out, ModelRef.of(embedder, threads), runner=runner, partitions=partitions,
                                workers=workers, address=address, retries=retries, on_partition=progress,
                                only=None if share is None else lambda part: part % share[1] == share[0] - 1)
    finally:
        progress.close()
    emit_record(fmt, report.to_dict(), show=lambda: None if state.quiet else _show_run(report, out))
    if report.failed:
        failed = ", ".join(f"{f['part']} ({f['error']})" for f in report.failed[:5])
        raise PartitionFailedError(f"{len(report.failed)} partition(s) failed after {retries} retries: {failed}; "
                                   "run the same command again to retry them (finished ones are kept)")


def _show_run(report: RunReport, out: Path) -> None:
    summary = report.to_dict()
    click.echo(f"{report.partitions} partition(s) on {report.runner}: {summary['ran']} ran, {summary['already_done']} "
               f"already done, {len(report.failed)} failed; {report.embedded} image(s) embedded, "
               f"{summary['skipped']} skipped ({report.seconds:.1f} s, {report.images_per_s:.1f} img/s)")
    for skipped in list(read_skipped(out))[:20]:
        click.echo(f"  skipped {skipped['source']}: {skipped['reason']}: {skipped['message']}")


def _embed_into_milvus(state: State, embedder: Embedder, image_list: Path, shard: str, sink: MilvusSink,
                       fmt: str) -> None:
    """The list streamed into one Milvus collection (resumable by content hash, shardable by line)."""
    share = parse_shard(shard)
    with make_progress(state.quiet or fmt != "table") as progress:
        progress.start(None, f"Embedding shard {shard}")
        report = run_job(embedder, read_list(image_list, share), sink, shard=share, progress=progress.advance)
    emit_record(fmt, report.to_dict(), show=lambda: None if state.quiet else click.echo(
        f"shard {report.shard}: {report.selected} selected, {report.embedded} embedded, "
        f"{report.already_done} already done, {len(report.failed)} failed ({report.seconds:.1f} s)"))


@cli.command("import-shards")
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--milvus", "milvus_uri", help="Stream the shards into a Milvus collection instead: milvus://host:port.")
@click.option("--collection", default="productlens_images", show_default=True, help="Milvus collection name.")
@format_option
@catalog_options
def import_shards(state: State, out: Path, milvus_uri: str | None, collection: str, fmt: str) -> None:
    """Add the vectors and products of an `embed` run's shards to the catalogue, without embedding again.

    A new catalogue is created on the shards' model; an existing one must use that model. With
    --milvus the shards go straight into a Milvus collection (no catalogue).
    """
    model_key = folder_model_key(out)
    name, version, precision = model_key.split("/")
    if milvus_uri is not None:
        dim = next((rows.vectors.shape[1] for rows in iter_shard_rows(out)), 0)
        counts = stream_shards(out, MilvusSink(milvus_uri, collection, dim))
    else:
        registered = version == "imagenet"  # a trained version exists only in the catalogue it was trained in
        with state.open(create=registered, model=name if registered else None, precision=precision) as catalog:
            counts = catalog.ingest.import_shards(out)
    emit_record(fmt, counts, show=lambda: None if state.quiet else click.echo(
        f"imported {counts['added']} image(s), {counts['duplicates']} already present"
        + (f", from {counts['shards']} shard(s) ({counts['skipped_inputs']} input(s) skipped when embedded)"
           if "shards" in counts else "")))

