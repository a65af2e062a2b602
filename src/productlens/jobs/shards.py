"""Parquet shards: the vectors one partition embedded, and the folder that gathers them.

    OUT/shards.json                          model key and partition count of the run
    OUT/part-00003-of-00016.parquet          product_id, image_sha256, source, embedding, model_key
    OUT/part-00003-of-00016.skipped.jsonl    the inputs the partition could not use, with reasons

A shard is written to a temp file and renamed, after its skipped list: a shard that exists is
finished, and a partition killed half-way leaves only a temp file that nothing reads. The
partition's report (counts, seconds) travels in the shard's Parquet metadata.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_file, write_text
from ..errors import IngestError, ModelMismatchError

FOLDER_FILE = "shards.json"
REPORT_KEY = b"productlens.partition"
READ_BATCH = 4096  # rows per batch when a shard is read back


@dataclass(frozen=True)
class ShardRows:
    """A batch of rows of one shard."""

    product_ids: list[str]
    sha256s: list[str]
    sources: list[str]
    vectors: np.ndarray  # (n, dim) float32
    model_key: str


def shard_name(part: int, n_parts: int) -> str:
    return f"part-{part:05d}-of-{n_parts:05d}"


def shard_path(out: Path, part: int, n_parts: int) -> Path:
    return Path(out) / f"{shard_name(part, n_parts)}.parquet"


def skipped_path(out: Path, part: int, n_parts: int) -> Path:
    return Path(out) / f"{shard_name(part, n_parts)}.skipped.jsonl"


def prepare_folder(out: Path, model_key: str, n_parts: int) -> None:
    """Create OUT with its shards.json, or check that an existing one was cut the same way with the
    same model (shards of two models, or of two partitionings, must not mix in one folder)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    meta = out / FOLDER_FILE
    if meta.exists():
        have = json.loads(meta.read_text())
        if have.get("model_key") != model_key:
            raise ModelMismatchError(f"shard folder {out} holds {have.get('model_key')} vectors; "
                                     f"this run embeds with {model_key}: use another folder")
        if int(have.get("partitions", n_parts)) != n_parts:
            raise IngestError(f"shard folder {out} was cut into {have.get('partitions')} partitions, not {n_parts}: "
                              f"re-run with --partitions {have.get('partitions')} or use another folder")
        return
    write_text(meta, json.dumps({"model_key": model_key, "partitions": n_parts}))


def folder_model_key(out: Path) -> str:
    """The model key of a shard folder's vectors (IngestError if `out` is no shard folder)."""
    meta = Path(out) / FOLDER_FILE
    if not meta.exists():
        raise IngestError(f"{out} is not a shard folder (no {FOLDER_FILE}): run `productlens embed MANIFEST -o {out}`")
    return str(json.loads(meta.read_text())["model_key"])


def is_shard_folder(out: Path) -> bool:
    return (Path(out) / FOLDER_FILE).exists()


def pyarrow_modules() -> tuple[Any, Any]:
    """pyarrow and pyarrow.parquet, or a one-line error saying which extra installs them."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise IngestError("Parquet shards need pyarrow: pip install 'productlens[shards]'") from None
    return pyarrow, pyarrow.parquet


def write_shard(path: Path, rows: list[tuple[str, str, str]], vectors: np.ndarray, model_key: str, dim: int,
                report: dict[str, Any]) -> None:
    """One partition's rows (product id, sha256, source) and vectors, atomically, report in the metadata."""
    pa, pq = pyarrow_modules()
    flat = pa.array(np.ascontiguousarray(vectors, np.float32).reshape(-1), pa.float32())
    schema = pa.schema([("product_id", pa.string()), ("image_sha256", pa.string()), ("source", pa.string()),
                        ("embedding", pa.list_(pa.float32(), dim)), ("model_key", pa.string())],
                       metadata={REPORT_KEY: json.dumps(report).encode()})
    table = pa.Table.from_arrays([pa.array([r[0] for r in rows], pa.string()), pa.array([r[1] for r in rows], pa.string()),
                                  pa.array([r[2] for r in rows], pa.string()),
                                  pa.FixedSizeListArray.from_arrays(flat, dim),
                                  pa.array([model_key] * len(rows), pa.string())], schema=schema)
    with atomic_file(path) as tmp:
        pq.write_table(table, tmp)


def write_skipped(path: Path, skipped: list[dict[str, Any]]) -> None:
    write_text(path, "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in skipped))


def read_report(path: Path) -> dict[str, Any]:
    """The report a finished shard carries."""
    _, pq = pyarrow_modules()
    return json.loads(pq.read_schema(path).metadata[REPORT_KEY])


def read_skipped(out: Path) -> Iterator[dict[str, Any]]:
    """Every input the run's finished partitions skipped, partition by partition."""
    for path in sorted(Path(out).glob("part-*.skipped.jsonl")):
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield json.loads(line)


def shard_files(out: Path) -> list[Path]:
    return sorted(Path(out).glob("part-*-of-*.parquet"))


def iter_shard_rows(out: Path, model_key: str | None = None) -> Iterator[ShardRows]:
    """Batches of every finished shard in OUT; with `model_key`, a shard of any other model raises
    ModelMismatchError before anything is read from it."""
    _, pq = pyarrow_modules()
    have = folder_model_key(out)
    if model_key is not None and have != model_key:
        raise ModelMismatchError(f"shards in {out} hold {have} vectors; the target uses {model_key}")
    for path in shard_files(out):
        reader = pq.ParquetFile(path)
        for batch in reader.iter_batches(batch_size=READ_BATCH):
            keys = set(batch.column("model_key").to_pylist())
            if keys - {have}:
                raise ModelMismatchError(f"shard {path} holds {', '.join(sorted(keys - {have}))} vectors, "
                                         f"not the folder's {have}")
            column = batch.column("embedding")
            dim = column.type.list_size
            vectors = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(-1, dim)
            yield ShardRows(batch.column("product_id").to_pylist(), batch.column("image_sha256").to_pylist(),
                            batch.column("source").to_pylist(), vectors, have)
