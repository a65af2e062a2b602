"""Commands for the vector index and large ingests: index info/build/import, embed (sharded jobs)."""

from __future__ import annotations

from pathlib import Path

import click

from .. import settings
from ..jobs import FileSink, JobReport, MilvusSink, parse_shard, read_list, run_job
from ..models import create_embedder
from .formats import emit_record, format_option
from .main import State, catalog_options, cli
from .output import make_progress


@cli.group()
def index() -> None:
    """Inspect or rebuild the catalogue's vector index."""


@index.command("info")
@format_option
@catalog_options
def index_info(state: State, fmt: str) -> None:
    """Kind, size and parameters of the index.

    CSV, TSV and JSON lines give them as one row."""
    with state.open() as catalog:
        info = catalog.index.info()
    emit_record(fmt, info, show=lambda: _show_fields(info))


def _show_fields(info: dict) -> None:
    for key, value in info.items():
        click.echo(f"{key:12} {value}")


@index.command("build")
@click.option("--kind", default="auto", show_default=True, help="flat, hnsw, hnsw-sq8, ivfpq, auto, or milvus://host:port")
@click.option("--budget", help="Memory budget for --kind auto, e.g. 2GB (default: no limit).")
@click.option("--recall", type=float, default=0.95, show_default=True,
              help="Tune efSearch/nprobe to this recall@10 against exact search on a sample.")
@click.option("--sample", type=int, default=200, show_default=True, help="Stored vectors used as tuning queries.")
@click.option("--reduce", "reduce_dim", type=click.IntRange(min=1),
              help="Hold PCA-reduced vectors of this many dimensions (fitted on the catalogue); "
                   "without it, full vectors (any earlier reduction is dropped).")
@click.option("--whiten", is_flag=True, help="Whiten the PCA (scale each component to unit variance); needs --reduce.")
@click.option("--rerank", type=click.IntRange(min=0),
              help="Candidates per query re-scored with the exact vectors kept in the catalogue "
                   "(indexes of compressed codes or reduced vectors; default 64, 0 turns it off).")
@format_option
@catalog_options
def index_build(state: State, kind: str, budget: str | None, recall: float, sample: int, reduce_dim: int | None,
                whiten: bool, rerank: int | None, fmt: str) -> None:
    """Rebuild the index from the catalogue's embeddings, as another kind if asked, and tune it."""
    if whiten and not reduce_dim:
        raise click.UsageError("--whiten needs --reduce N")
    with state.open() as catalog:
        result = catalog.index.rebuild(kind=kind, max_memory=budget, recall=recall, sample=sample, reduce_dim=reduce_dim,
                                       whiten=whiten, rerank=rerank)
    emit_record(fmt, result, show=lambda: _show_build(result))


def _show_build(result: dict) -> None:
    reduction = result["reduce"]
    reduced = f", PCA {reduction['from_dim']}->{reduction['dim']}" if reduction else ""
    click.echo(f"built {result['kind']} over {result['count']} vector(s){reduced} {result.get('factory') or ''}")
    if "tuning" in result:
        click.echo(f"tuned: {result['tuning']}")


@index.command("import")
@click.argument("job", type=click.Path(exists=True, file_okay=False, path_type=Path))
@format_option
@catalog_options
def index_import(state: State, job: Path, fmt: str) -> None:
    """Add the vectors of a finished `embed` job folder (all shards) to the catalogue."""
    with state.open(create=True) as catalog:
        counts = catalog.ingest.import_job(job)
    emit_record(fmt, counts, show=lambda: click.echo(f"imported {counts['added']} image(s), "
                                                     f"{counts['duplicates']} already present"))


@cli.command()
@click.argument("image_list", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path),
              help="Job folder for the vectors (parts per shard); or use --milvus.")
@click.option("--shard", default="1/1", show_default=True, help="This machine's share: i/n (1-based).")
@click.option("--milvus", "milvus_uri", help="Write straight into a Milvus collection: milvus://host:port.")
@click.option("--collection", default="productlens_images", show_default=True, help="Milvus collection name.")
@click.option("--model", default=None, help="Embedder (default: the `model` setting).")
@click.option("--precision", type=click.Choice(["fp32", "int8"]), default="fp32", show_default=True)
@format_option
@catalog_options
def embed(state: State, image_list: Path, out: Path | None, shard: str, milvus_uri: str | None, collection: str,
          model: str | None, precision: str, fmt: str) -> None:
    """Embed a list of images (one `path[,product]` a line) as a resumable, shardable job.

    Re-running skips images already embedded (by content hash). Run `--shard 1/4` ... `4/4` on
    four machines to split one list; then `productlens index import OUT`, or use --milvus to
    write every shard into one Milvus collection.
    """
    if (out is None) == (milvus_uri is None):
        raise click.UsageError("give exactly one of --out DIR or --milvus milvus://host:port")
    share = parse_shard(shard)
    embedder = create_embedder(model or str(settings.get("model")), precision)
    sink = FileSink(out, share, embedder.key) if out is not None else MilvusSink(milvus_uri, collection, embedder.dim)
    with make_progress(state.quiet or fmt != "table") as progress:
        progress.start(None, f"Embedding shard {shard}")
        report = run_job(embedder, read_list(image_list, share), sink, shard=share, progress=progress.advance)
    emit_record(fmt, report.to_dict(), show=lambda: None if state.quiet else _show_job(report))


def _show_job(report: JobReport) -> None:
    rate = report.embedded / report.seconds if report.seconds else 0.0
    click.echo(f"shard {report.shard}: {report.selected} selected, {report.embedded} embedded, "
               f"{report.already_done} already done, {len(report.failed)} failed "
               f"({report.seconds:.1f} s, {rate:.0f} img/s)")
    for f in report.failed[:20]:
        click.echo(f"  failed {f['path']}: {f['error']}")
