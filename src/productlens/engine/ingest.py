"""Adding to a catalogue: products first, then images embedded in batches and written with their
vectors to the store and the live index.

Images are written in batches, each in one transaction, so an interrupted add keeps what was
committed and re-running the same command resumes (known images are skipped by content hash).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np

from ..catalog.ingest import IngestItem, title_from_name
from ..catalog.store import CatalogStore, NewImage, Product
from ..errors import ImageError, ModelMismatchError, ProductLensError
from ..images import ImageSource, LoadedImage, content_hash, load_image, read_bytes
from ..index.live import LiveIndex
from ..jobs import iter_job_parts, job_model_key
from ..models import Embedder
from ..pipeline import embed_sources
from ..results import IngestReport, ProgressSink, Skipped

log = logging.getLogger(__name__)

FLUSH_EVERY = 256  # images per write transaction during ingest
SAVE_EVERY_S = 60.0  # index checkpoint interval during long ingests
CALIBRATION_IMAGES = 128  # catalogue images used to calibrate INT8 quantisation

FieldsChanging = Callable[[list[str]], AbstractContextManager[None]]


def new_image(product_id: str, sha256: str, vector: np.ndarray, source: str | None,
              loaded: LoadedImage | None = None) -> NewImage:
    """The store row of an image and its embedding; size, format and decoding notes when it was
    decoded here (a reused embedding or an imported job vector was not)."""
    if loaded is None:
        return NewImage(product_id, sha256, vector, source)
    return NewImage(product_id, sha256, vector, source, loaded.width, loaded.height, loaded.format,
                    "; ".join(loaded.notes) or None, loaded.captured_at)


def upsert_item_products(store: CatalogStore, items: list[IngestItem], fields_changing: FieldsChanging) -> tuple[int, int]:
    """Create or update the products the items name (attributes merged per product); returns
    (created, updated). A title derived from a folder name never overwrites a stored one."""
    merged: dict[str, IngestItem] = {}
    for it in items:
        prev = merged.get(it.product.id)
        if prev is not None:
            it.product.attributes = {**prev.product.attributes, **it.product.attributes}
        merged[it.product.id] = it
    created = updated = 0
    derived = [it.product for it in merged.values() if it.title_derived]
    given = [it.product for it in merged.values() if not it.title_derived]
    with fields_changing(list(merged)):
        for group, keep in ((derived, True), (given, False)):
            if group:
                c, u = store.upsert_products(group, keep_existing_title=keep)
                created, updated = created + c, updated + u
    return created, updated


class ImageIngest:
    """Embeds the items' images that the catalogue lacks and writes them in batches."""

    def __init__(self, store: CatalogStore, embedder: Embedder, live: LiveIndex, report: IngestReport,
                 progress: ProgressSink | None) -> None:
        self.store, self.embedder, self.live, self.report, self.progress = store, embedder, live, report, progress
        self.pending: list[NewImage] = []
        self.last_save = time.monotonic()
        self.seen: set[tuple[str, str]] = set()

    def run(self, items: list[IngestItem]) -> None:
        try:
            for result in embed_sources(self.embedder, self.new_images(items), source_of=lambda pair: pair[1]):
                it = result.item[0]
                if result.error is not None:
                    self.skip(it, result.error.reason, str(result.error))
                    log.info("skipped %s: %s", it.image, result.error)
                else:
                    loaded = result.loaded
                    self.pending.append(new_image(it.product.id, loaded.sha256 or "", result.vector, str(it.image), loaded))
                    self.advance()
                if len(self.pending) >= FLUSH_EVERY:
                    self.flush()
            self.flush()
        finally:
            self.live.save()

    def new_images(self, items: list[IngestItem]) -> Iterator[tuple[IngestItem, bytes]]:
        """Read and hash each file; skip what the catalogue has; reuse known embeddings."""
        for it in items:
            try:
                data = read_bytes(it.image)
            except ImageError as exc:
                self.skip(it, exc.reason, str(exc))
                continue
            except OSError as exc:
                self.skip(it, "unreadable", exc.strerror or str(exc))
                continue
            digest = content_hash(data)
            if (it.product.id, digest) in self.seen or self.store.has_image(it.product.id, digest):
                self.report.duplicates += 1
                self.advance()
                continue
            self.seen.add((it.product.id, digest))
            vector = self.store.vector_for_hash(digest, self.embedder.key)
            if vector is not None:
                self.pending.append(new_image(it.product.id, digest, vector, str(it.image)))
                self.report.reused_embeddings += 1
                self.advance()
                continue
            yield it, data

    def skip(self, it: IngestItem, reason: str, message: str) -> None:
        self.report.skipped.append(Skipped(str(it.image), reason, message))
        self.advance()

    def advance(self) -> None:
        if self.progress:
            self.progress.advance()

    def flush(self) -> None:
        if not self.pending:
            return
        ids = np.asarray(self.store.insert_images(self.pending, self.embedder.key), dtype=np.int64)
        fresh = ids >= 0
        self.report.added += int(fresh.sum())
        self.report.duplicates += int((~fresh).sum())
        if fresh.any():
            self.live.add(ids[fresh], np.stack([p.vector for p in self.pending])[fresh])
        self.pending.clear()
        if time.monotonic() - self.last_save > SAVE_EVERY_S:
            self.live.save()
            self.last_save = time.monotonic()


def calibration_sources(items: list[IngestItem]) -> list[bytes]:
    """Up to CALIBRATION_IMAGES decodable images, spread over the products being added."""
    by_product: dict[str, list[Path]] = {}
    for it in items:
        by_product.setdefault(it.product.id, []).append(it.image)
    picked: list[bytes] = []
    rounds = max((len(v) for v in by_product.values()), default=0)
    for r in range(rounds):
        for paths in by_product.values():
            if r < len(paths) and len(picked) < CALIBRATION_IMAGES:
                try:
                    data = read_bytes(paths[r])
                    load_image(data)
                    picked.append(data)
                except (ImageError, OSError):
                    continue
    if not picked:
        raise ProductLensError("INT8 needs calibration images, and none of the images being added could be decoded")
    return picked


def add_one_image(store: CatalogStore, embedder: Embedder, live: LiveIndex, product_id: str, image: ImageSource,
                  source: str | None) -> int | None:
    """Attach one image to an existing product; its id, or None if the product has those bytes already."""
    loaded = load_image(image, draft_size=embedder.draft_size)
    if store.has_image(product_id, loaded.sha256 or ""):
        return None
    vector = embedder.embed([loaded.image])[0]
    ids = store.insert_images([new_image(product_id, loaded.sha256 or "", vector, source, loaded)], embedder.key)
    if ids[0] < 0:
        return None
    live.add(np.asarray(ids, dtype=np.int64), vector[None, :])
    return ids[0]


def import_job(store: CatalogStore, live: LiveIndex, model_key: str, out: Path) -> dict[str, int]:
    """Add a finished embedding job's vectors (jobs.py) without re-embedding; returns counts.

    Products missing from the catalogue are created (title from the id); an image without a
    product is filed under its parent folder's name, as `add FOLDER` would.
    """
    have = job_model_key(out)
    if have != model_key:
        raise ModelMismatchError(f"job {out} holds {have} vectors; the catalogue uses {model_key}")
    added = duplicates = 0
    for hashes, sources, products, vectors in iter_job_parts(out):
        pids = [p or Path(s).parent.name for p, s in zip(products, sources)]
        known = {p.id for p in store.get_products(sorted(set(pids)))}
        new = [Product(pid, title_from_name(pid)) for pid in sorted(set(pids) - known)]
        if new:
            store.upsert_products(new, keep_existing_title=True)
        rows = [new_image(pid, h, v, s) for pid, h, v, s in zip(pids, hashes, vectors, sources)]
        ids = np.asarray(store.insert_images(rows, model_key), np.int64)
        fresh = ids >= 0
        if fresh.any():
            live.add(ids[fresh], vectors[fresh])
        added += int(fresh.sum())
        duplicates += int((~fresh).sum())
    live.save()
    return {"added": added, "duplicates": duplicates}
