"""`embed_partition`: the unit of work every runner schedules (clip-retrieval's reader -> mapper ->
writer, in one call).

It reads its slice of a manifest, reads and hashes each image, decodes and embeds it through
`pipeline.embed_sources` (the path `add` takes, so a bad image is skipped for the same reason
`add` gives), and writes one Parquet shard plus its skipped list (jobs/shards.py). A partition
whose shard exists is finished and is not run again. The model travels as a `ModelRef` (a file
and its settings, cheap to pickle) and is loaded once per worker process, not per partition.
"""

from __future__ import annotations

import logging
import os
import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImageError
from ..images import content_hash
from ..models import Embedder, create_embedder
from ..models.trained import load_embedder_file
from ..models.transforms import PreprocessConfig
from ..pipeline import embed_sources
from .manifest import ManifestRow, read_image_bytes, read_manifest
from .shards import pyarrow_modules, read_report, shard_path, skipped_path, write_shard, write_skipped
from .worker_memory import tune_malloc, peak_rss_mb, release_free_memory

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class ModelRef:
    """What a worker needs to load an embedder: its ONNX file and settings (no torch, no registry).

    On a cluster `onnx_path` must be readable by every worker (a shared filesystem, or the same
    cache folder on each machine); failing that, a registered model is exported there again.
    """

    name: str
    version: str
    precision: str
    dim: int
    preprocess: PreprocessConfig
    onnx_path: str
    threads: int = 1

    @property
    def key(self) -> str:
        return f"{self.name}/{self.version}/{self.precision}"

    @classmethod
    def of(cls, embedder: Embedder, threads: int = 1) -> "ModelRef":
        return cls(embedder.name, embedder.version, embedder.precision, embedder.dim,
                   embedder.preprocess, str(embedder.onnx_path), threads)

    def load(self) -> Embedder:
        if not Path(self.onnx_path).exists() and self.version == "imagenet":
            return create_embedder(self.name, self.precision, threads=self.threads)
        return load_embedder_file(self.onnx_path, self.name, self.version, self.dim, self.preprocess,
                                  self.precision, self.threads)


_LOADED: dict[ModelRef, Embedder] = {}  # per worker process: a model loads once, however many partitions run


def worker_embedder(model: ModelRef) -> Embedder:
    """The embedder of `model`, loaded on first use in this process."""
    if model not in _LOADED:
        _LOADED[model] = model.load()
    return _LOADED[model]


@dataclass
class PartitionReport:
    """What one partition did (`already_done`: it was finished by an earlier run, nothing ran)."""

    part: int
    n_parts: int
    selected: int = 0
    embedded: int = 0
    duplicates: int = 0
    skipped: int = 0
    seconds: float = 0.0
    already_done: bool = False
    worker: str = ""  # host:pid of the process that ran it
    loaded_model: bool = False  # this call loaded the model (the first partition a worker process ran)
    peak_rss_mb: float = 0.0  # the worker process's peak resident memory so far, its shard written
    cpu_seconds: float = 0.0  # CPU time the worker process spent on this partition (all its threads)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _process_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class _Gathered:
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    vectors: list[np.ndarray] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)


def embed_partition(manifest: str | Path, part: int, n_parts: int, model: ModelRef | str, out: str | Path,
                    *, batch_size: int | None = None, progress: Callable[[int], None] | None = None) -> PartitionReport:
    """Embed partition `part` (0-based) of `n_parts` of `manifest` into OUT; a finished one is skipped."""
    out = Path(out)
    target = shard_path(out, part, n_parts)
    if target.exists():
        return PartitionReport(**{**read_report(target), "already_done": True, "seconds": 0.0, "loaded_model": False,
                                  "worker": f"{os.uname().nodename}:{os.getpid()}"})
    started, cpu_started = time.perf_counter(), _process_cpu_seconds()
    tune_malloc()
    pyarrow_modules()  # a worker without pyarrow fails here, before it embeds anything
    out.mkdir(parents=True, exist_ok=True)
    ref = model if isinstance(model, ModelRef) else ModelRef.of(create_embedder(model))
    report = PartitionReport(part, n_parts, worker=f"{os.uname().nodename}:{os.getpid()}", loaded_model=ref not in _LOADED)
    embedder = worker_embedder(ref)
    gathered = _Gathered()
    seen: set[tuple[str, str]] = set()

    def fresh() -> Iterator[tuple[ManifestRow, str, bytes]]:
        for row in read_manifest(manifest, part, n_parts):
            report.selected += 1
            if not row.path:
                gathered.skipped.append({"row": row.row, "source": "", "reason": "no-image", "message": "no image path"})
                continue
            try:
                data = read_image_bytes(row.path)
            except ImageError as exc:
                gathered.skipped.append({"row": row.row, "source": row.path, "reason": exc.reason, "message": str(exc)})
                continue
            except OSError as exc:
                gathered.skipped.append({"row": row.row, "source": row.path, "reason": "unreadable",
                                         "message": exc.strerror or str(exc)})
                continue
            digest = content_hash(data)
            if (row.product_id, digest) in seen:  # the same photo listed twice for one product
                report.duplicates += 1
                continue
            seen.add((row.product_id, digest))
            yield row, digest, data

    for result in embed_sources(embedder, fresh(), source_of=lambda entry: entry[2], batch_size=batch_size,
                                progress=progress):
        row, digest, _ = result.item
        if result.error is not None:
            gathered.skipped.append({"row": row.row, "source": row.path, "reason": result.error.reason,
                                     "message": str(result.error)})
            continue
        gathered.rows.append((row.product_id, digest, row.path))
        gathered.vectors.append(result.vector)
    report.embedded = len(gathered.rows)
    report.skipped = len(gathered.skipped)
    report.seconds = time.perf_counter() - started
    report.cpu_seconds = _process_cpu_seconds() - cpu_started
    report.peak_rss_mb = peak_rss_mb()
    vectors = np.stack(gathered.vectors) if gathered.vectors else np.zeros((0, embedder.dim), np.float32)
    write_skipped(skipped_path(out, part, n_parts), gathered.skipped)
    write_shard(target, gathered.rows, vectors, embedder.key, embedder.dim, report.to_dict())
    del gathered, vectors
    release_free_memory()
    # the caller's copy counts the shard's writing too (the first one sets up pyarrow's writer:
    # tens of MB that stay); the copy stored in the shard was taken just before
    report.peak_rss_mb = peak_rss_mb()
    return report
