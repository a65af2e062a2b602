"""Adding to a catalogue: products first, then images embedded in batches and written with their
vectors to the store and the live index.

Images go in chunks of FLUSH_EVERY: each chunk is read, hashed, decoded and embedded with no
lock held (a slow or stalled input file never keeps other writers waiting), then the write lock
is taken only to write it, in one transaction. Should another process have switched the active
model meanwhile, the chunk is embedded again with the new one before it is written, so no image
is stored with only an old model's embedding. An interrupted add keeps what was committed, and
re-running the same command resumes (known images are skipped by content hash).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .. import meta_keys
from ..catalog.ingest import IngestItem, read_source
from ..catalog.media import UPLOAD_PREFIX, MediaStore
from ..catalog.store import CatalogStore, NewImage, Product
from ..errors import ImageError, ModelMismatchError, ProductLensError
from ..images import ImageSource, LoadedImage, content_hash, load_image, read_bytes
from ..index.live import LiveIndex
from ..jobs import iter_job_parts, job_model_key
from ..models import Embedder
from ..pipeline import embed_sources
from ..results import IngestReport, ProgressSink, Skipped
from ..text import semantic
from ..text.port import TextVectorsOnWrite
from .active import ActiveModel
from .indexing import IndexService
from .lifecycle import IndexSaves, WriteLock
from .shards import add_embedded, import_shards

log = logging.getLogger(__name__)

FLUSH_EVERY = 256  # images per write transaction during ingest
QUANTIZATION_IMAGES = 128  # catalogue images INT8 quantisation takes its activation ranges from

FieldsChanging = Callable[[list[str]], AbstractContextManager[None]]


def new_image(product_id: str, sha256: str, vector: np.ndarray, source: str | None,
              loaded: LoadedImage | None = None) -> NewImage:
    """The store row of an image and its embedding; size, format and decoding notes when it was
    decoded here (a reused embedding or an imported job vector was not)."""
    if loaded is None:
        return NewImage(product_id, sha256, vector, source)
    return NewImage(product_id, sha256, vector, source, loaded.width, loaded.height, loaded.format,
                    "; ".join(loaded.notes) or None, loaded.captured_at)


def upsert_item_products(store: CatalogStore, items: list[IngestItem],
                         fields_changing: FieldsChanging) -> tuple[int, int, list[dict[str, Any]]]:
    """Create or update the products the items name (attributes merged per product); returns
    (created, updated, the stored values the feed overwrote). The feed wins over earlier edits
    for every field it gives; a title derived from a folder name never overwrites a stored one."""
    merged: dict[str, IngestItem] = {}
    for it in items:
        prev = merged.get(it.product.id)
        if prev is not None:  # an empty cell in a later row keeps what an earlier row gave, whatever the column
            product, earlier = it.product, prev.product
            product.attributes = {**earlier.attributes, **product.attributes}
            product.category = earlier.category if product.category is None else product.category
            product.description = earlier.description if product.description is None else product.description
            if it.title_derived and not prev.title_derived:
                product.title, it.title_derived = earlier.title, False
        merged[it.product.id] = it
    created = updated = 0
    derived = [it.product for it in merged.values() if it.title_derived]
    given = [it.product for it in merged.values() if not it.title_derived]
    stored = {p.id: p for p in store.get_products(list(merged))}
    overwritten = [change for it in merged.values() if it.product.id in stored
                   for change in overwrites(stored[it.product.id], it.product, keep_title=it.title_derived)]
    with fields_changing(list(merged)):
        for group, keep in ((derived, True), (given, False)):
            if group:
                c, u = store.upsert_products(group, keep_existing_title=keep)
                created, updated = created + c, updated + u
    return created, updated, overwritten


def overwrites(stored: Product, given: Product, *, keep_title: bool) -> list[dict[str, Any]]:
    """The stored values of a product that writing `given` over it replaces (what upsert_products
    changes: the title unless kept, a category or description given, each attribute given)."""
    pairs = [("category", stored.category, given.category), ("description", stored.description, given.description)]
    if not keep_title:
        pairs.insert(0, ("title", stored.title, given.title))
    pairs += [(key, stored.attributes[key], value) for key, value in given.attributes.items() if key in stored.attributes]
    return [{"product": stored.id, "field": name, "old": old, "new": new}
            for name, old, new in pairs if new is not None and old is not None and old != new]


@dataclass
class Chunk:
    """One chunk of items made ready outside the lock: rows to write and what was counted."""

    model_key: str
    pending: list[NewImage] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)
    duplicates: int = 0
    reused: int = 0


class ImageIngest:
    """Embeds the items' images that the catalogue lacks and writes them, a chunk at a time."""

    def __init__(self, store: CatalogStore, lock: WriteLock, active: ActiveModel, saves: IndexSaves,
                 report: IngestReport, progress: ProgressSink | None) -> None:
        self.store, self.lock, self.active, self.saves = store, lock, active, saves
        self.report, self.progress = report, progress
        self.seen: set[tuple[str, str]] = set()

    def run(self, items: list[IngestItem]) -> None:
        self.saves.begin_bulk()
        for start in range(0, len(items), FLUSH_EVERY):
            self.write_chunk(items[start : start + FLUSH_EVERY], last=start + FLUSH_EVERY >= len(items))

    def write_chunk(self, items: list[IngestItem], *, last: bool) -> None:
        """Prepare the chunk with no lock held, then write it under the lock; again should the
        active model have changed in between (counted once in the progress bar)."""
        counting = True
        while True:
            embedder = self.active.pair()[0]
            chunk = self.prepare(items, embedder, counting)
            with self.lock.hold():
                current, live = self.active.pair()
                if current.key == embedder.key:
                    self.commit(chunk, live)
                    self.saves.bulk_write(live, last=last)
                    return
            log.info("the active model changed to %s while embedding; embedding %d images again", current.key, len(items))
            counting = False

    def prepare(self, items: list[IngestItem], embedder: Embedder, counting: bool) -> Chunk:
        chunk = Chunk(embedder.key)
        advance = self.advance if counting else (lambda: None)
        pairs = self.new_images(items, embedder, chunk, advance)
        for result in embed_sources(embedder, pairs, source_of=lambda pair: pair[1]):
            it = result.item[0]
            if result.error is not None:
                chunk.skipped.append(Skipped(str(it.image), result.error.reason, str(result.error)))
                log.info("skipped %s: %s", it.image, result.error)
            else:
                loaded = result.loaded
                chunk.pending.append(new_image(it.product.id, loaded.sha256 or "", result.vector, str(it.image), loaded))
            advance()
        return chunk

    def new_images(self, items: list[IngestItem], embedder: Embedder, chunk: Chunk,
                   advance: Callable[[], None]) -> Iterator[tuple[IngestItem, bytes]]:
        """Read and hash each file; skip what the catalogue has; reuse known embeddings."""
        for it in items:
            try:
                data = read_bytes(it.image)
            except ImageError as exc:
                chunk.skipped.append(Skipped(str(it.image), exc.reason, str(exc)))
                advance()
                continue
            except OSError as exc:
                chunk.skipped.append(Skipped(str(it.image), "unreadable", exc.strerror or str(exc)))
                advance()
                continue
            digest = content_hash(data)
            key = (it.product.id, digest)
            if key in self.seen or key in chunk.seen or self.store.has_image(it.product.id, digest):
                chunk.duplicates += 1
                advance()
                continue
            chunk.seen.add(key)
            vector = self.store.vector_for_hash(digest, embedder.key)
            if vector is not None:
                chunk.pending.append(new_image(it.product.id, digest, vector, str(it.image)))
                chunk.reused += 1
                advance()
                continue
            yield it, data

    def advance(self) -> None:
        if self.progress:
            self.progress.advance()

    def commit(self, chunk: Chunk, live: LiveIndex) -> None:
        """Write a prepared chunk (the caller holds the write lock) and count it in the report."""
        self.report.skipped += chunk.skipped
        self.report.duplicates += chunk.duplicates
        self.report.reused_embeddings += chunk.reused
        self.seen |= chunk.seen
        if chunk.pending:
            ids = np.asarray(self.store.insert_images(chunk.pending, chunk.model_key), dtype=np.int64)
            fresh = ids >= 0
            self.report.added += int(fresh.sum())
            self.report.duplicates += int((~fresh).sum())
            if fresh.any():
                live.add(ids[fresh], np.stack([p.vector for p in chunk.pending])[fresh])


def quantization_sources(items: list[IngestItem]) -> list[bytes]:
    """Up to QUANTIZATION_IMAGES decodable images, spread over the products being added (INT8
    quantisation takes its activation ranges from them)."""
    by_product: dict[str, list[Path]] = {}
    for it in items:
        by_product.setdefault(it.product.id, []).append(it.image)
    picked: list[bytes] = []
    rounds = max((len(v) for v in by_product.values()), default=0)
    for r in range(rounds):
        for paths in by_product.values():
            if r < len(paths) and len(picked) < QUANTIZATION_IMAGES:
                try:
                    data = read_bytes(paths[r])
                    load_image(data)
                    picked.append(data)
                except (ImageError, OSError):
                    continue
    if not picked:
        raise ProductLensError("INT8 is quantised on sample images, and none of the images being added could be decoded")
    return picked


@dataclass
class OneImage:
    """One image decoded and embedded for a product, ready to write."""

    row: NewImage
    model_key: str


def embed_one(embedder: Embedder, product_id: str, loaded: LoadedImage, source: str | None) -> OneImage:
    """Embed one decoded image (no lock is held while it is read, decoded or embedded)."""
    vector = embedder.embed([loaded.image])[0]
    return OneImage(new_image(product_id, loaded.sha256 or "", vector, source, loaded), embedder.key)


def write_one(store: CatalogStore, live: LiveIndex, one: OneImage) -> int | None:
    """Write a prepared image (the caller holds the write lock); its id, or None when the product
    has those bytes already."""
    if one.row.sha256 and store.has_image(one.row.product_id, one.row.sha256):
        return None
    ids = store.insert_images([one.row], one.model_key)
    if ids[0] < 0:
        return None
    live.add(np.asarray(ids, dtype=np.int64), one.row.vector[None, :])
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
        fresh, repeated = add_embedded(store, live, model_key, pids, hashes, sources, vectors)
        added, duplicates = added + fresh, duplicates + repeated
    return {"added": added, "duplicates": duplicates}


class Ingest:
    """Every change to a catalogue's products and images: adding sources, items, single photos
    and uploads, importing embedding jobs, editing and removing. Reads, decodes and embeds with
    no lock held; takes the write lock once per write, and under it uses the model active then."""

    def __init__(self, store: CatalogStore, media: MediaStore, lock: WriteLock, active: ActiveModel,
                 index: IndexService, text_vectors: TextVectorsOnWrite) -> None:
        self.store, self.media, self.lock, self.active, self.index = store, media, lock, active, index
        self.text_vectors = text_vectors

    def read_source(self, source: str | Path, *, product: str | None = None, category: str | None = None,
                    layout: str = "product") -> list[IngestItem]:
        """What `add` would add from `source` (catalog/ingest.py): a table with no image column is
        a products-only update when every product it names already has photos here."""
        return list(read_source(source, product=product, category=category, layout=layout,
                                products_with_images=self.store.first_images))

    def add_items(self, items: Sequence[IngestItem], progress: ProgressSink | None = None) -> IngestReport:
        """Upsert the items' products (with their text vectors), then embed and add the new images."""
        items = list(items)
        started = time.perf_counter()
        report = IngestReport()
        with_images = [it for it in items if it.image is not None]
        with self.lock.hold():
            new_with_images = {it.product.id for it in with_images} - {
                p.id for p in self.store.get_products([it.product.id for it in with_images])}
            report.products_created, report.products_updated, report.overwritten = upsert_item_products(
                self.store, items, self.index.fields_changing)
            semantic.sync_on_write(self.text_vectors, [it.product.id for it in items])
        if progress:
            progress.start(len(with_images), "Embedding images")
        if with_images:
            precision = self.store.get_meta(meta_keys.MODEL_PRECISION, "fp32")
            needs_quantization_images = precision == "int8" and self.active.record() is None
            self.active.embedder(quantization_sources(with_images) if needs_quantization_images else None, register=True)
            ImageIngest(self.store, self.lock, self.active, self.index.saves, report, progress).run(with_images)
        if new_with_images:
            self.drop_products_without_images(report, new_with_images)
        report.seconds = time.perf_counter() - started
        return report

    def drop_products_without_images(self, report: IngestReport, created: set[str]) -> None:
        """Remove the products this add created whose every image failed: a product is only made
        with at least one image when images were given for it (a CSV of missing files makes none)."""
        with self.lock.hold():
            empty = [p.id for p in self.store.get_products(sorted(created)) if p.image_count == 0]
            if empty:
                self.store.delete_products(empty)
        report.products_created -= len(empty)
        report.products_without_images = empty

    def add_image(self, product_id: str, image: ImageSource, *, source: str | None = None) -> int | None:
        """Attach one image to an existing product; its id, or None if the product has it already."""
        self.store.get_product(product_id)
        if isinstance(image, (str, Path)):
            source, image = source or str(image), read_bytes(image)
        embedder = self.active.embedder(register=True)
        loaded = load_image(image, draft_size=embedder.draft_size)
        return self.write_one(embed_one(embedder, product_id, loaded, source), loaded)

    def add_upload(self, product_id: str, data: bytes, *, max_pixels: int | None = None) -> int | None:
        """Attach uploaded image bytes to a product, keeping the original in the catalogue's media
        folder (thumbnails are made from it); None when the product has those bytes already. The
        product is looked up once, the bytes decoded once, and the write lock taken once."""
        self.store.get_product(product_id)
        embedder = self.active.embedder(register=True)
        loaded = load_image(data, draft_size=embedder.draft_size, max_pixels=max_pixels)  # refuses non-images
        prepared = embed_one(embedder, product_id, loaded, f"{UPLOAD_PREFIX}{loaded.sha256}")
        return self.write_one(prepared, loaded, original=data)

    def write_one(self, prepared: OneImage, loaded: LoadedImage, *, original: bytes | None = None) -> int | None:
        """Write an embedded image under the write lock, with the model active then (embedded
        again from the decoded picture should another process have switched it meanwhile). An
        upload's `original` bytes are stored under the same hold: the sweep of unrecorded uploads
        when a catalogue opens (lifecycle.remove_stale_files) never sees one half-done."""
        with self.lock.hold():
            if original is not None:
                self.media.save_original(original, loaded.format)
            embedder, live = self.active.pair()
            if embedder.key != prepared.model_key:
                prepared = embed_one(embedder, prepared.row.product_id, loaded, prepared.row.source)
            image_id = write_one(self.store, live, prepared)
            if image_id is not None:
                self.index.saves.small_write(live)
        return image_id

    def import_job(self, folder: str | Path) -> dict[str, int]:
        """Add the vectors of a finished `.npz` job folder (all shards) without re-embedding."""
        return self.write_embedded(partial(import_job, out=Path(folder)))

    def import_shards(self, folder: str | Path) -> dict[str, int]:
        """Add the Parquet shards of a distributed `embed` run (engine/shards.py) without re-embedding."""
        return self.write_embedded(partial(import_shards, out=Path(folder)))

    def write_embedded(self, write: Callable[..., dict[str, int]]) -> dict[str, int]:
        """Run `write(store, live, model_key)` for vectors embedded elsewhere under the write lock,
        with the active model's key (a new catalogue registers its model first); save the index."""
        self.active.embedder(register=True)
        with self.lock.hold():
            embedder, live = self.active.pair()
            counts = write(self.store, live, embedder.key)
            self.index.saves.now(live)
        return counts

    def upsert_product(self, product: Product) -> Product:
        """Create a product, or change the fields it gives (its text vector follows)."""
        with self.lock.hold():
            with self.index.fields_changing([product.id]):
                self.store.upsert_products([product])
            semantic.sync_on_write(self.text_vectors, [product.id])
        return self.store.get_product(product.id)

    def update_product(self, product_id: str, changes: dict[str, Any]) -> Product:
        """Change title/category/description and/or `attributes` (None removes an attribute)."""
        with self.lock.hold():
            with self.index.fields_changing([product_id]):
                product = self.store.update_product(product_id, changes)
            semantic.sync_on_write(self.text_vectors, [product_id])
        return product

    def remove(self, product_ids: Sequence[str]) -> int:
        """Delete products with all their images; the number of images removed."""
        with self.lock.hold():
            removed = self.store.delete_products(list(product_ids))
            self.index.remove(removed)
        return len(removed)

    def remove_image(self, image_id: int) -> bool:
        with self.lock.hold():
            if not self.store.delete_images([image_id]):
                return False
            self.index.remove([image_id])
        return True
