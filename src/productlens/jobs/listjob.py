"""List jobs: a list of images embedded into a sink, resumable and shardable by line
(`embed LIST --milvus`; the Parquet partitions of `embed MANIFEST -o OUT` are in partition.py).

A job reads a list file (one image per line: `path` or `path,product_id`; relative paths are
relative to the list file; `#` starts a comment), keeps the lines of its shard (`i/n`: line
number mod n == i-1, so n machines split one list without talking to each other), and embeds
each image through `pipeline.embed_sources` (decode overlapped with inference). Results go to
a sink in parts:

- `FileSink`: `OUT/shard-I-of-N/part-00000.npz` files (sha256, source, product, vector), each
  written atomically: the job folders of earlier versions, which `Catalog.import_job` still reads.
- `MilvusSink`: straight into one Milvus collection shared by all shards; the row id is the
  first 63 bits of the content hash, so shards never collide and need no coordination.

Resuming is by content hash: an image whose bytes a sink already holds (or that the target
catalogue already has) is skipped without decoding. Memory stays flat: the list is streamed,
look-ahead is bounded, and at most `flush_every` results are held before a part is written.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from ..atomic import atomic_file, write_text
from ..errors import ImageError, IngestError, ModelMismatchError
from ..images import content_hash, read_bytes
from ..index import create_index
from ..models import Embedder
from ..pipeline import embed_sources
from .shards import iter_shard_rows

log = logging.getLogger(__name__)

FLUSH_EVERY = 1024
CHECK_BLOCK = 256  # images hashed (and checked against the sink) at a time


@dataclass
class JobItem:
    line: int
    path: Path
    product: str | None


@dataclass
class JobReport:
    """What one run of a job did (a re-run of a finished job reports only skips)."""

    shard: str
    selected: int = 0
    embedded: int = 0
    already_done: int = 0
    failed: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def parse_shard(text: str) -> tuple[int, int]:
    """'2/4' -> (2, 4); shards count from 1."""
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise IngestError(f"--shard must look like 1/4, not {text!r}") from None
    if n < 1 or not 1 <= i <= n:
        raise IngestError(f"shard {text!r} out of range: need 1 <= i <= n")
    return i, n


def read_list(path: Path, shard: tuple[int, int] = (1, 1)) -> Iterator[JobItem]:
    """Stream the shard's lines of a list file."""
    path = Path(path)
    if not path.is_file():
        raise IngestError(f"image list {path} does not exist")
    i, n = shard
    with open(path, encoding="utf-8") as fh:
        for number, raw in enumerate(fh):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if number % n != i - 1:
                continue
            name, _, product = line.partition(",") if "," in line else line.partition("\t")
            image = Path(name.strip())
            if not image.is_absolute():
                image = path.parent / image
            yield JobItem(number, image, product.strip() or None)


def hash_id(sha256: str) -> int:
    """A positive int64 id from a content hash (63 bits: collisions are negligible)."""
    return int(sha256[:16], 16) >> 1


class Sink(Protocol):
    def done(self, hashes: list[str]) -> set[str]: ...

    def write(self, records: list[dict], vectors: np.ndarray) -> None: ...

    def close(self) -> None: ...


class FileSink:
    """Parts of .npz files in OUT/shard-I-of-N; the hashes already written are the resume ledger."""

    def __init__(self, out: Path, shard: tuple[int, int], model_key: str) -> None:
        self.folder = Path(out) / f"shard-{shard[0]}-of-{shard[1]}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.model_key = model_key
        manifest = Path(out) / "job.json"
        if manifest.exists():
            have = json.loads(manifest.read_text()).get("model_key")
            if have != model_key:
                raise ModelMismatchError(f"job folder {out} holds {have} vectors; this run embeds with {model_key}")
        else:
            write_text(manifest, json.dumps({"model_key": model_key}))
        self._hashes: set[str] = set()
        self._parts = 0
        for part in sorted(self.folder.glob("part-*.npz")):
            with np.load(part) as data:
                self._hashes.update(data["sha256"].tolist())
            self._parts += 1

    def done(self, hashes: list[str]) -> set[str]:
        return {h for h in hashes if h in self._hashes}

    def write(self, records: list[dict], vectors: np.ndarray) -> None:
        path = self.folder / f"part-{self._parts:05d}.npz"
        with atomic_file(path, suffix=".npz") as tmp:
            np.savez(tmp, sha256=np.asarray([r["sha256"] for r in records]),
                     source=np.asarray([r["source"] for r in records]),
                     product=np.asarray([r["product"] or "" for r in records]),
                     vector=vectors.astype(np.float32))
        self._parts += 1
        self._hashes.update(r["sha256"] for r in records)

    def close(self) -> None:
        pass


class MilvusSink:
    """Rows straight into one Milvus collection, id = hash_id(sha256)."""

    def __init__(self, uri: str, collection: str, dim: int) -> None:
        self.index = create_index(uri, dim, collection=collection)

    def done(self, hashes: list[str]) -> set[str]:
        if not hashes:
            return set()
        present = self.index.contains(np.asarray([hash_id(h) for h in hashes], np.int64))
        return {h for h, found in zip(hashes, present.tolist()) if found}

    def write(self, records: list[dict], vectors: np.ndarray) -> None:
        payload = [{"title": r["product"] or "", "category": "",
                    "attributes": {"sha256": r["sha256"], "source": r["source"]}} for r in records]
        self.index.add(np.asarray([hash_id(r["sha256"]) for r in records], np.int64), vectors, payload=payload)

    def close(self) -> None:
        self.index.close()


def run_job(embedder: Embedder, items: Iterable[JobItem], sink: Sink, *, shard: tuple[int, int] = (1, 1),
            skip: Callable[[str], bool] | None = None, flush_every: int = FLUSH_EVERY,
            progress: Callable[[int], None] | None = None) -> JobReport:
    """Embed every item the sink does not hold yet; `skip(sha256)` can veto more (a catalogue's images)."""
    started = time.perf_counter()
    report = JobReport(shard=f"{shard[0]}/{shard[1]}")

    def fresh() -> Iterator[tuple[JobItem, str, bytes]]:
        block: list[tuple[JobItem, str, bytes]] = []

        def drain() -> Iterator[tuple[JobItem, str, bytes]]:
            done = sink.done([h for _, h, _ in block])
            seen: set[str] = set()
            for entry in block:
                if entry[1] in done or entry[1] in seen or (skip is not None and skip(entry[1])):
                    report.already_done += 1
                    progress and progress(1)
                    continue
                seen.add(entry[1])
                yield entry
            block.clear()

        for item in items:
            report.selected += 1
            try:
                data = read_bytes(item.path)
            except (ImageError, OSError) as exc:
                report.failed.append({"line": item.line, "path": str(item.path), "error": str(exc)})
                progress and progress(1)
                continue
            block.append((item, content_hash(data), data))
            if len(block) >= CHECK_BLOCK:
                yield from drain()
        yield from drain()

    records: list[dict] = []
    vectors: list[np.ndarray] = []

    def flush() -> None:
        if records:
            sink.write(records, np.stack(vectors))
            records.clear()
            vectors.clear()

    for result in embed_sources(embedder, fresh(), source_of=lambda entry: entry[2]):
        item, digest, _ = result.item
        if result.error is not None:
            report.failed.append({"line": item.line, "path": str(item.path), "error": str(result.error)})
        else:
            records.append({"sha256": digest, "source": str(item.path), "product": item.product})
            vectors.append(result.vector)
            report.embedded += 1
        progress and progress(1)
        if len(records) >= flush_every:
            flush()
    flush()
    sink.close()
    report.seconds = time.perf_counter() - started
    return report


def iter_job_parts(out: Path) -> Iterator[tuple[list[str], list[str], list[str], np.ndarray]]:
    """(sha256s, sources, products, vectors) of every part in a job folder, shard by shard."""
    out = Path(out)
    if not (out / "job.json").exists():
        raise IngestError(f"{out} is not an embedding job folder (no job.json)")
    for part in sorted(out.glob("shard-*/part-*.npz")):
        with np.load(part) as data:
            yield (data["sha256"].tolist(), data["source"].tolist(), data["product"].tolist(),
                   data["vector"].astype(np.float32))


def job_model_key(out: Path) -> str:
    """The model key a job folder's vectors were embedded with (IngestError if it is not a job folder)."""
    manifest = Path(out) / "job.json"
    if not manifest.exists():
        raise IngestError(f"{out} is not an embedding job folder (no job.json)")
    return str(json.loads(manifest.read_text()).get("model_key"))



def stream_shards(out: Path, sink: Sink) -> dict[str, int]:
    """Write the Parquet shards of a distributed run (jobs/shards.py) into a sink (Milvus): rows the
    sink holds already are skipped, so a stream cut short is resumed by running it again."""
    written = present = 0
    for rows in iter_shard_rows(out):
        done = sink.done(rows.sha256s)
        keep = [i for i, h in enumerate(rows.sha256s) if h not in done]
        present += len(rows.sha256s) - len(keep)
        if keep:
            sink.write([{"sha256": rows.sha256s[i], "source": rows.sources[i], "product": rows.product_ids[i]}
                        for i in keep], rows.vectors[keep])
            written += len(keep)
    sink.close()
    return {"added": written, "duplicates": present}
