"""Commands for the vector index: index info/build/import (`embed` and `import-shards` are in embed_cmds.py)."""

from __future__ import annotations

from pathlib import Path

import click

from ..jobs import is_shard_folder
from .formats import emit_record, format_option
from .main import State, catalog_options, cli


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
    """Add the vectors of a finished embedding job folder (.npz parts, or an `embed` run's Parquet
    shards) to the catalogue."""
    with state.open(create=True) as catalog:
        counts = catalog.ingest.import_shards(job) if is_shard_folder(job) else catalog.ingest.import_job(job)
    emit_record(fmt, counts, show=lambda: click.echo(f"imported {counts['added']} image(s), "
                                                     f"{counts['duplicates']} already present"))
