"""The engine: a catalogue you can add to, search by photo and ask to recognise a photo.

`Catalog` ties the layers together (image I/O -> embedder -> vector index -> ranking), and is
the one object the CLI, the REST API and the web page call. A catalogue is a directory:

    catalog.db      SQLite, the source of truth (products, images, models, embeddings)
    index/          vector index files, derived from catalog.db and rebuilt from it if stale
    models/         model files that belong to this catalogue (e.g. INT8 calibrated on its images)
    .write.lock     held by the process that writes
"""

from __future__ import annotations

import fcntl
import json
import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol, Sequence

import numpy as np

from . import recognition, settings
from .catalog.ingest import IngestItem, read_source
from .catalog.live_index import LiveIndex
from .catalog.store import CatalogStore, ModelRecord, NewImage, Product
from .errors import (
    CatalogError,
    CatalogExistsError,
    CatalogNotFoundError,
    ImageError,
    ModelError,
    ModelMismatchError,
    ProductLensError,
    VectorIndexError,
)
from .filters import Filter, as_filter, field_kinds, milvus_pushdown
from .images import ImageSource, content_hash, load_image, read_bytes
from .index import is_remote
from .ranking import Box, aggregate_best_image, crop_to_box

log = logging.getLogger(__name__)

DB_NAME = "catalog.db"
DEFAULT_INDEX = "faiss-flat"
FLUSH_EVERY = 256  # images per write transaction during ingest
SAVE_EVERY_S = 60.0  # index checkpoint interval during long ingests
SMALL_WRITE_SAVE_S = 30.0  # single-image writes save the index file at most this often
CALIBRATION_IMAGES = 128  # catalogue images used to calibrate INT8 quantisation
MAX_PUSHED_EXCLUDES = 4096  # excluded image ids sent to Milvus as "id not in [...]" at most


class ProgressSink(Protocol):
    """What long operations report to; the CLI renders it, the library never prints."""

    def start(self, total: int | None, description: str) -> None: ...

    def advance(self, n: int = 1) -> None: ...


@dataclass
class ProductHit:
    """A product in a result list, scored by its best-matching image."""

    product: Product
    score: float
    image_id: int
    rank: int

    def to_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "score": round(self.score, 6), "image_id": self.image_id, **self.product.to_dict()}


@dataclass
class Recognition:
    """Which product a photo shows, or None for "not in the catalogue"."""

    product: Product | None
    score: float
    confidence: float
    threshold: float
    category: str | None
    category_confidence: float
    candidates: list[ProductHit]

    @property
    def known(self) -> bool:
        return self.product is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "product": self.product.to_dict() if self.product else None,
            "known": self.known,
            "score": round(self.score, 6),
            "confidence": round(self.confidence, 6),
            "threshold": round(self.threshold, 6),
            "category": self.category,
            "category_confidence": round(self.category_confidence, 6),
            "candidates": [c.to_dict() for c in self.candidates],
        }


@dataclass
class Skipped:
    source: str
    reason: str
    message: str


@dataclass
class IngestReport:
    """What an add did: counts, and every skipped input with its reason."""

    added: int = 0
    duplicates: int = 0
    reused_embeddings: int = 0
    products_created: int = 0
    products_updated: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _ProductView:
    """Every product at one store generation, plus what filtering derives from them (lazily)."""

    generation: int
    products: list[Product]

    @cached_property
    def by_id(self) -> dict[str, Product]:
        return {p.id: p for p in self.products}

    @cached_property
    def kinds(self) -> dict[str, frozenset[str]]:
        """Value kinds per field, which decide whether a filter can be pushed down to Milvus."""
        return field_kinds({"title": p.title, "category": p.category, "attributes": p.attributes} for p in self.products)


@dataclass
class _Scope:
    """Which images a vector search may return: all, a Milvus expression, or a list of ids."""

    pool: int  # how many images that is at most
    allowed: np.ndarray | None = None  # allowed image ids (every backend)
    where: str | None = None  # a Milvus expression (server indexes only)
    recheck: Filter | None = None  # re-applied to hits: a pushed-down filter may over-select


class Catalog:
    """A product catalogue on disk. Open with `Catalog.open(path)`; close when done."""

    def __init__(self, path: Path, store: CatalogStore) -> None:
        self.path = Path(path)
        self.store = store
        self._embedder = None
        self._live: LiveIndex | None = None
        self._init_lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._view_cache: _ProductView | None = None
        self._index_dirty = False
        self._last_small_save = 0.0

    # --- opening ---------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | Path,
        *,
        model: str | None = None,
        precision: str = "fp32",
        index: str = DEFAULT_INDEX,
    ) -> "Catalog":
        """Create an empty catalogue directory (refuses to overwrite an existing one)."""
        from .models import list_embedders

        path = Path(path)
        model = model or str(settings.get("model"))
        if (path / DB_NAME).exists():
            raise CatalogExistsError(f"a catalogue already exists at {path}")
        if model not in list_embedders():
            from .errors import UnknownModelError

            raise UnknownModelError(f"unknown model {model!r}; known: {', '.join(list_embedders())}")
        if precision not in ("fp32", "int8"):
            raise ProductLensError(f"precision must be fp32 or int8, not {precision!r}")
        path.mkdir(parents=True, exist_ok=True)
        store = CatalogStore(path / DB_NAME, create=True)
        store.set_meta({"model_name": model, "model_precision": precision, "index_kind": index})
        return cls(path, store)

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        create: bool = False,
        model: str | None = None,
        precision: str | None = None,
        index: str | None = None,
    ) -> "Catalog":
        """Open a catalogue; with create=True make it if missing. A model that differs from the
        catalogue's raises ModelMismatchError (embeddings of two models are not comparable); an
        index kind that differs raises CatalogError (change it with `productlens index build`)."""
        path = Path(path)
        if not (path / DB_NAME).exists():
            if create:
                return cls.create(path, model=model, precision=precision or "fp32", index=index or DEFAULT_INDEX)
            raise CatalogNotFoundError(
                f"no catalogue at {path} (create one with: productlens --catalog {path} add PHOTOS)"
            )
        catalog = cls(path, CatalogStore(path / DB_NAME))
        have_model, have_precision = catalog.model_name, catalog.precision
        if (model and model != have_model) or (precision and precision != have_precision):
            catalog.close()
            raise ModelMismatchError(
                f"catalogue {path} is embedded with {have_model} ({have_precision}); "
                f"it cannot be used with {model or have_model} ({precision or have_precision})"
            )
        have_index = str(catalog.store.get_meta("index_kind", DEFAULT_INDEX))
        if index and index != have_index:
            catalog.close()
            raise CatalogError(
                f"catalogue {path} uses the {have_index} index, not {index}; change it with: productlens index build --kind ..."
            )
        return catalog

    def close(self) -> None:
        if self._index_dirty and self._live is not None:
            self._live.save()
        self.store.close()

    def __enter__(self) -> "Catalog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def model_name(self) -> str:
        return str(self.store.get_meta("model_name"))

    @property
    def precision(self) -> str:
        return str(self.store.get_meta("model_precision", "fp32"))

    # --- model and index -------------------------------------------------------------------

    @property
    def models_dir(self) -> Path:
        return self.path / "models"

    def embedder(self, calibration: Sequence[ImageSource] | None = None):
        """The catalogue's embedder, created once (INT8 needs calibration images the first time)."""
        with self._init_lock:
            if self._embedder is None:
                from .models import create_embedder

                calibration_images = None
                if calibration is not None:
                    calibration_images = [load_image(s).image for s in calibration]
                # fp32 files are shared from the user cache; INT8 is calibrated on this catalogue.
                model_dir = None
                if self.precision == "int8":
                    model_dir = self.models_dir
                    model_dir.mkdir(parents=True, exist_ok=True)
                active = self.active_model
                if active is not None and active.info.get("onnx"):  # a trained version (training/versions.py)
                    from .models.trained import embedder_for_record

                    embedder = embedder_for_record(self.path, active)
                else:
                    embedder = create_embedder(
                        self.model_name, self.precision, model_dir=model_dir, calibration_images=calibration_images
                    )
                self._register_model(embedder)
                self._embedder = embedder
            return self._embedder

    def _register_model(self, embedder) -> None:
        active = self.store.get_meta("active_model")
        if active is None:
            self.store.add_model(
                ModelRecord(embedder.key, embedder.name, embedder.version, embedder.precision, embedder.dim,
                            embedder.preprocess.to_dict(), {}, time.strftime("%Y-%m-%dT%H:%M:%S"))
            )
            self.store.set_meta({"active_model": embedder.key})
        elif active != embedder.key:
            raise ModelMismatchError(f"catalogue's active model is {active}, but the embedder is {embedder.key}")

    @property
    def active_model(self) -> ModelRecord | None:
        key = self.store.get_meta("active_model")
        return self.store.get_model(key) if key else None

    @property
    def index_kind(self) -> str:
        """The index kind the catalogue uses (faiss-flat, faiss-hnsw, ..., milvus://host:port)."""
        return str(self.store.get_meta("index_kind", DEFAULT_INDEX))

    def live_index(self) -> LiveIndex | None:
        """The active model's vector index, opened once and kept in step with the store; None
        while nothing was ever embedded. Vectors passed to it are the model's (it reduces them)."""
        if self._live is None:
            model = self.active_model
            if model is None:
                return None
            with self._init_lock:
                if self._live is None:
                    self._live = LiveIndex(self.store, self.path / "index", model.key, model.dim, self.index_kind)
        return self._live

    # --- writing ---------------------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the catalogue's write lock: one writer at a time, across threads and processes.

        Wrap a group of store and index writes that must not interleave with another writer's
        (each store write is still its own transaction). Re-entrant within a thread.
        """
        with self._write_lock:
            self.path.mkdir(parents=True, exist_ok=True)
            with open(self.path / ".write.lock", "a+") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)

    def add(self, source: str | Path, *, product: str | None = None, progress: ProgressSink | None = None) -> IngestReport:
        """Add a folder tree, a CSV/JSONL table, or images of one `product`."""
        return self.add_items(read_source(source, product=product), progress=progress)

    def add_items(self, items: Iterable[IngestItem], *, progress: ProgressSink | None = None) -> IngestReport:
        """Upsert the products, then embed and add the images that are new.

        Images are written in batches, each in one transaction, so an interrupted add keeps what
        was committed and re-running the same command resumes (known images are skipped by hash).
        """
        started = time.perf_counter()
        items = list(items)
        report = IngestReport()
        with self.writing():
            report.products_created, report.products_updated = self._upsert_item_products(items)
            with_images = [it for it in items if it.image is not None]
            if progress:
                progress.start(len(with_images), "Embedding images")
            if with_images:
                self._ingest_images(with_images, report, progress)
        report.seconds = time.perf_counter() - started
        return report

    @contextmanager
    def _fields_changing(self, product_ids: Sequence[str]) -> Iterator[None]:
        """Wrap writes to product fields: a server index (Milvus) keeps a copy of them to filter on."""
        live = self.live_index() if is_remote(self.index_kind) else None
        if live is None:
            yield
            return
        existing = [p.id for p in self.store.get_products(list(product_ids))]  # only they can have rows
        with live.fields_changing(existing):
            yield

    def _upsert_item_products(self, items: list[IngestItem]) -> tuple[int, int]:
        merged: dict[str, IngestItem] = {}
        for it in items:
            prev = merged.get(it.product.id)
            if prev is not None:
                it.product.attributes = {**prev.product.attributes, **it.product.attributes}
            merged[it.product.id] = it
        created = updated = 0
        derived = [it.product for it in merged.values() if it.title_derived]
        given = [it.product for it in merged.values() if not it.title_derived]
        with self._fields_changing(list(merged)):
            for group, keep in ((derived, True), (given, False)):
                if group:
                    c, u = self.store.upsert_products(group, keep_existing_title=keep)
                    created, updated = created + c, updated + u
        return created, updated

    def _ingest_images(self, items: list[IngestItem], report: IngestReport, progress: ProgressSink | None) -> None:
        from .pipeline import embed_sources

        embedder = self.embedder(calibration=self._calibration_sources(items) if self._needs_calibration() else None)
        live = self.live_index()
        assert live is not None
        key = embedder.key
        pending: list[NewImage] = []
        last_save = time.monotonic()

        def flush() -> None:
            nonlocal last_save
            if not pending:
                return
            ids = np.asarray(self.store.insert_images(pending, key), dtype=np.int64)
            fresh = ids >= 0
            report.added += int(fresh.sum())
            report.duplicates += int((~fresh).sum())
            if fresh.any():
                live.add(ids[fresh], np.stack([p.vector for p in pending])[fresh])
            pending.clear()
            if time.monotonic() - last_save > SAVE_EVERY_S:
                live.save()
                last_save = time.monotonic()

        seen: set[tuple[str, str]] = set()

        def new_images() -> Iterator[tuple[IngestItem, bytes]]:
            """Read and hash each file; skip what the catalogue has; reuse known embeddings."""
            for it in items:
                try:
                    data = read_bytes(it.image)
                except ImageError as exc:
                    report.skipped.append(Skipped(str(it.image), exc.reason, str(exc)))
                    progress and progress.advance()
                    continue
                except OSError as exc:
                    report.skipped.append(Skipped(str(it.image), "unreadable", exc.strerror or str(exc)))
                    progress and progress.advance()
                    continue
                digest = content_hash(data)
                if (it.product.id, digest) in seen or self.store.has_image(it.product.id, digest):
                    report.duplicates += 1
                    progress and progress.advance()
                    continue
                seen.add((it.product.id, digest))
                vector = self.store.vector_for_hash(digest, key)
                if vector is not None:
                    pending.append(NewImage(it.product.id, digest, vector, str(it.image)))
                    report.reused_embeddings += 1
                    progress and progress.advance()
                    continue
                yield it, data

        try:
            for result in embed_sources(embedder, new_images(), source_of=lambda pair: pair[1]):
                it = result.item[0]
                if result.error is not None:
                    report.skipped.append(Skipped(str(it.image), result.error.reason, str(result.error)))
                    log.info("skipped %s: %s", it.image, result.error)
                else:
                    loaded = result.loaded
                    pending.append(
                        NewImage(it.product.id, loaded.sha256, result.vector, str(it.image), loaded.width,
                                 loaded.height, loaded.format, "; ".join(loaded.notes) or None)
                    )
                if progress:
                    progress.advance()
                if len(pending) >= FLUSH_EVERY:
                    flush()
            flush()
        finally:
            live.save()

    def _needs_calibration(self) -> bool:
        return self._embedder is None and self.precision == "int8" and self.active_model is None

    @staticmethod
    def _calibration_sources(items: list[IngestItem]) -> list[bytes]:
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

    def add_image(self, product_id: str, image: ImageSource, *, source: str | None = None) -> int | None:
        """Attach one image to an existing product; returns its id, or None if already there."""
        self.store.get_product(product_id)
        embedder = self.embedder()
        loaded = load_image(image, draft_size=embedder.draft_size)
        with self.writing():
            if self.store.has_image(product_id, loaded.sha256 or ""):
                return None
            vector = embedder.embed([loaded.image])[0]
            live = self.live_index()
            ids = self.store.insert_images(
                [NewImage(product_id, loaded.sha256 or "", vector, source, loaded.width, loaded.height,
                          loaded.format, "; ".join(loaded.notes) or None)],
                embedder.key,
            )
            if ids[0] < 0:
                return None
            live.add(np.asarray(ids, dtype=np.int64), vector[None, :])
            self._save_soon(live)
            return ids[0]

    def upsert_product(self, product: Product) -> Product:
        with self.writing(), self._fields_changing([product.id]):
            self.store.upsert_products([product])
        return self.store.get_product(product.id)

    def update_product(self, product_id: str, **changes: Any) -> Product:
        """Change title/category/description and/or `attributes` (None removes an attribute)."""
        with self.writing(), self._fields_changing([product_id]):
            return self.store.update_product(product_id, changes)

    def remove(self, product_ids: Sequence[str]) -> int:
        """Delete products with all their images; returns the number of images removed."""
        with self.writing():
            removed = self.store.delete_products(list(product_ids))
            self._drop_from_index(removed)
        return len(removed)

    def remove_image(self, image_id: int) -> bool:
        with self.writing():
            if not self.store.delete_images([image_id]):
                return False
            self._drop_from_index([image_id])
        return True

    def _drop_from_index(self, image_ids: Sequence[int]) -> None:
        live = self.live_index()
        if live is not None and image_ids:
            live.remove(np.asarray(image_ids, dtype=np.int64))
            self._save_soon(live)

    def _save_soon(self, live: LiveIndex) -> None:
        """Save after a small write at most every SMALL_WRITE_SAVE_S, and on close.

        Rewriting a large index file per uploaded photo would dominate a server's write cost; the
        write is already committed in SQLite, and a stale index file is caught up from it on open.
        """
        now = time.monotonic()
        if now - self._last_small_save >= SMALL_WRITE_SAVE_S:
            live.save()
            self._last_small_save, self._index_dirty = now, False
        else:
            self._index_dirty = True

    # --- reading ---------------------------------------------------------------------------

    def get_product(self, product_id: str) -> Product:
        return self.store.get_product(product_id)

    def _view(self) -> _ProductView:
        """Every product, cached until the next write."""
        generation = self.store.generation
        view = self._view_cache
        if view is None or view.generation != generation:
            view = self._view_cache = _ProductView(generation, self.store.iter_products())
        return view

    def products(self) -> list[Product]:
        """All products, cached until the next write."""
        return self._view().products

    def list_products(self, where: str | Filter | None = None, *, limit: int | None = None, offset: int = 0) -> list[Product]:
        flt = as_filter(where)
        matching = [p for p in self.products() if flt is None or flt.matches(p.to_dict())]
        return matching[offset : None if limit is None else offset + limit]

    def embed_query(self, image: ImageSource, box: Box | None = None) -> np.ndarray:
        """Decode (full size when cropping, so the box is in original pixels), crop, embed."""
        embedder = self.embedder()
        loaded = load_image(image, draft_size=None if box is not None else embedder.draft_size)
        picture = crop_to_box(loaded.image, box) if box is not None else loaded.image
        return embedder.embed([picture])[0]

    def search(
        self, image: ImageSource | None = None, *, k: int = 10, where: str | Filter | None = None,
        box: Box | None = None, text: str | None = None, fusion: str = "blend",
    ) -> list[ProductHit]:
        """Products that look most like the photo, best first, optionally filtered.

        With `text` as well, the photo and text rankings are fused (`fusion`: "blend" or "rrf",
        see text/hybrid.py); with `text` alone it is `search_text`."""
        if image is None:
            if text is None:
                raise ProductLensError("search needs a photo, a text, or both")
            return self.search_text(text, k=k, where=where)
        if text is None:
            return self.search_vector(self.embed_query(image, box), k=k, where=where)
        ranked = self.text_search().hybrid(self.embed_query(image, box), text, k, where, fusion=fusion)
        return self._text_hits(ranked)

    def search_text(
        self, text: str, *, k: int = 10, where: str | Filter | None = None, mode: str = "auto"
    ) -> list[ProductHit]:
        """Products matching a text query: keyword (FTS5 BM25) + semantic + image bridge, fused
        with reciprocal-rank fusion; `mode` "keyword", "semantic" or "text" picks a part."""
        from .text.fts import keyword_search
        from .text.search import allowed_products

        if mode == "keyword":  # needs no sentence model
            keep = allowed_products(self, where)
            ranked = [h for h in keyword_search(self.store, text, limit=max(5 * k, 500)) if keep is None or keep(h[0])]
        else:
            try:
                ranked = self.text_search().text_ranking(text, allowed_products(self, where), max(k, 100), mode=mode)
            except ModelError as exc:
                if mode != "auto":
                    raise
                log.warning("semantic text search unavailable (%s); keyword results only", exc)
                return self.search_text(text, k=k, where=where, mode="keyword")
        return self._text_hits([(pid, score, -1) for pid, score in ranked[:k]])

    def text_search(self):
        """The catalogue's text search helper (text/search.TextSearch), created once."""
        with self._init_lock:
            if getattr(self, "_text", None) is None:
                from .text.search import TextSearch

                self._text = TextSearch(self)
            return self._text

    def _text_hits(self, ranked: list[tuple[str, float, int]]) -> list[ProductHit]:
        """ProductHits for (product id, score, image id or -1); -1 becomes the product's first image."""
        products = {p.id: p for p in self.store.get_products([pid for pid, _, _ in ranked])}
        first = self.store.first_images([pid for pid, _, image_id in ranked if image_id < 0])
        return [ProductHit(products[pid], score, image_id if image_id >= 0 else first.get(pid, -1), rank)
                for rank, (pid, score, image_id) in enumerate(ranked, start=1) if pid in products]

    def duplicates(self, *, image_threshold: float | None = None, product_threshold: float | None = None,
                   use_text: bool = True):
        """Clusters of near-identical images and of probably-identical products (dedup/finder.py)."""
        from .dedup import find_duplicates

        return find_duplicates(self, image_threshold=image_threshold, product_threshold=product_threshold, use_text=use_text)

    def calibrate_duplicates(self, *, n: int = 200, seed: int = 0, use_text: bool = True):
        """Choose and store the duplicate thresholds on `n` synthetic copies (dedup/calibrate.py)."""
        from .dedup.calibrate import calibrate_on_copies, store_calibration

        cal = calibrate_on_copies(self, n=n, seed=seed, use_text=use_text)
        store_calibration(self, cal)
        return cal

    def search_vector(
        self, vector: np.ndarray, *, k: int = 10, where: str | Filter | None = None, exclude: Sequence[str] = ()
    ) -> list[ProductHit]:
        """Products whose images are nearest `vector` (an embedding of the active model), best first.

        A filter or `exclude` restricts the candidates: on a Milvus index, as an expression the
        server evaluates when the filter can be pushed down (`filters.milvus_pushdown`); else,
        and on every FAISS kind, as the list of allowed image ids.
        """
        live = self.live_index()
        if live is None or k <= 0:
            return []
        flt = as_filter(where)
        scope = self._scope(live, flt, exclude)
        try:
            ranked = self._ranked(live, vector, k, scope) if scope is not None else []
        except VectorIndexError as exc:
            if scope is None or scope.where is None:
                raise
            log.warning("Milvus could not filter with %r (%s); sending image ids instead", scope.where, exc)
            scope = self._scope(live, flt, exclude, push=False)
            ranked = self._ranked(live, vector, k, scope) if scope is not None else []
        products = {p.id: p for p in self.store.get_products([pid for pid, _, _ in ranked])}
        return [ProductHit(products[pid], score, image_id, rank)
                for rank, (pid, score, image_id) in enumerate(ranked, start=1) if pid in products]

    def _scope(self, live: LiveIndex, flt: Filter | None, exclude: Sequence[str], *, push: bool = True) -> _Scope | None:
        """Which images a search may return; None when no image matches at all."""
        if flt is None and not exclude:
            return _Scope(pool=len(live))
        if push and live.remote:
            where = self._milvus_where(flt, exclude)
            if where is not None:
                return _Scope(pool=len(live), where=where or None, recheck=flt)
        excluded = set(exclude)
        keep = [p.id for p in self.products() if p.id not in excluded and (flt is None or flt.matches(p.to_dict()))]
        allowed = self.store.image_ids_of_products(keep)
        return _Scope(pool=len(allowed), allowed=allowed) if len(allowed) else None

    def _milvus_where(self, flt: Filter | None, exclude: Sequence[str]) -> str | None:
        """The filter and the excluded products as one Milvus expression ("" for no restriction),
        or None when they cannot be pushed down exactly enough."""
        clauses = []
        if flt is not None:
            expression = milvus_pushdown(flt, self._view().kinds)
            if expression is None:
                return None
            clauses.append(f"({expression})")
        if exclude:
            excluded = self.store.image_ids_of_products(list(exclude))
            if len(excluded) > MAX_PUSHED_EXCLUDES:
                return None
            if len(excluded):
                clauses.append(f"id not in {excluded.tolist()}")
        return " and ".join(clauses)

    def _ranked(self, live: LiveIndex, vector: np.ndarray, k: int, scope: _Scope) -> list[tuple[str, float, int]]:
        """(product id, score, best image id) of the top k products, fetching more image hits
        until k distinct products are found or the scope is exhausted."""
        fetch = min(scope.pool, max(4 * k, 64))
        while True:
            hits = live.search(vector[None, :], fetch, allowed_ids=scope.allowed, where=scope.where)
            ids, scores = hits.ids[0], hits.scores[0]
            mapping = self.store.image_products(ids.tolist())
            if scope.recheck is not None:
                mapping = self._matching(mapping, scope.recheck)
            ranked = aggregate_best_image(ids, scores, mapping, k)
            exhausted = scope.where is not None and int((ids >= 0).sum()) < fetch  # the server found no more
            if len(ranked) >= k or fetch >= scope.pool or exhausted:
                return ranked
            fetch = min(scope.pool, fetch * 4)

    def _matching(self, image_products: dict[int, str], flt: Filter) -> dict[int, str]:
        """The image -> product pairs whose product matches `flt` (re-checking a pushed-down filter)."""
        by_id = self._view().by_id
        ok = {pid: pid in by_id and flt.matches(by_id[pid].to_dict()) for pid in set(image_products.values())}
        return {image: pid for image, pid in image_products.items() if ok[pid]}

    def similar(self, product_id: str, *, k: int = 10, where: str | Filter | None = None) -> list[ProductHit]:
        """Other products that look like this one (mean of its image embeddings as the query)."""
        model = self.active_model
        self.store.get_product(product_id)
        if model is None:
            return []
        image_ids = [im.id for im in self.store.get_images(product_id)]
        _, vectors = self.store.embeddings(model.key, image_ids)
        if not len(vectors):
            return []
        query = vectors.mean(axis=0)
        query /= max(float(np.linalg.norm(query)), 1e-12)
        return self.search_vector(query.astype(np.float32), k=k, where=where, exclude=[product_id])

    # --- recognition -----------------------------------------------------------------------

    @property
    def calibration(self) -> recognition.Calibration:
        raw = self.store.get_meta("recognition_calibration")
        return recognition.Calibration(**json.loads(raw)) if raw else recognition.default_calibration()

    def recognize(self, image: ImageSource, *, k: int = 5, box: Box | None = None) -> Recognition:
        """Name the product in the photo, or say it is not in the catalogue."""
        return self.recognize_vector(self.embed_query(image, box), k=k)

    def recognize_vector(self, vector: np.ndarray, *, k: int = 5) -> Recognition:
        model = self.active_model
        if model is not None and model.info.get("classifier"):  # trained version: its classifier/kNN blend
            from .training.classify import recognize_trained

            return recognize_trained(self, model, vector, k)
        cal = self.calibration
        candidates = self.search_vector(vector, k=max(k, 1))
        if not candidates:
            return Recognition(None, 0.0, 0.0, cal.threshold, None, 0.0, [])
        top = candidates[0]
        # Category by a softmax-weighted vote of the candidates: an unknown product can still
        # be recognised as "some milk" when its neighbours agree.
        weights = np.exp((np.array([c.score for c in candidates]) - top.score) / 0.05)
        votes: dict[str | None, float] = {}
        for c, w in zip(candidates, weights):
            votes[c.product.category] = votes.get(c.product.category, 0.0) + float(w)
        category, weight = max(votes.items(), key=lambda kv: kv[1])
        known = top.score >= cal.threshold
        return Recognition(
            product=top.product if known else None,
            score=top.score,
            confidence=cal.confidence(top.score),
            threshold=cal.threshold,
            category=category,
            category_confidence=weight / float(weights.sum()),
            candidates=candidates,
        )

    def calibrate(
        self, *, photos: Iterable[IngestItem] | None = None, max_queries: int = 400, seed: int = 0
    ) -> recognition.Calibration:
        """Choose the "unknown" threshold (see recognition.py) and store it in the catalogue.

        With `photos` (labelled photos that are NOT in the catalogue, e.g. a validation split)
        the scores are those of real new photos; without, catalogue images are left out one at a
        time, which is optimistic when a product's photos are near-duplicates of each other.
        """
        if photos is not None:
            cal = self._calibrate_on_photos(list(photos))
        else:
            cal = self._calibrate_leave_one_out(max_queries, seed)
        with self.writing():
            self.store.set_meta({"recognition_calibration": json.dumps(cal.to_dict())})
        return cal

    def _calibrate_on_photos(self, photos: list[IngestItem]) -> recognition.Calibration:
        from .pipeline import embed_sources

        known_scores, known_correct, unknown_scores = [], [], []
        labelled = [it for it in photos if it.image is not None]
        for result in embed_sources(self.embedder(), labelled, source_of=lambda it: it.image):
            if result.vector is None:
                continue
            own = result.item.product.id
            best = self.search_vector(result.vector, k=1)
            if best:
                known_scores.append(best[0].score)
                known_correct.append(best[0].product.id == own)
            impostor = self.search_vector(result.vector, k=1, exclude=[own])
            if impostor:
                unknown_scores.append(impostor[0].score)
        if not known_scores:
            raise ProductLensError("none of the calibration photos could be used")
        return recognition.calibrate(np.array(known_scores), np.array(known_correct), np.array(unknown_scores))

    def _calibrate_leave_one_out(self, max_queries: int, seed: int) -> recognition.Calibration:
        model = self.active_model
        live = self.live_index()
        if model is None or live is None:
            raise ProductLensError("nothing embedded yet: add images before calibrating")
        images = self.store.get_images()
        by_product: dict[str, list[int]] = {}
        for im in images:
            by_product.setdefault(im.product_id, []).append(im.id)
        eligible = [im.id for im in images if len(by_product[im.product_id]) >= 2]
        if len(by_product) < 3 or not eligible:
            raise ProductLensError("calibration needs at least 3 products and one with 2+ images")
        rng = np.random.default_rng(seed)
        queries = rng.choice(eligible, size=min(max_queries, len(eligible)), replace=False)
        product_of = {im.id: im.product_id for im in images}
        known_scores, known_correct, unknown_scores = [], [], []
        for ids, vectors in self.store.iter_embeddings(model.key, queries.tolist()):
            for image_id, vector in zip(ids.tolist(), vectors):
                own = product_of[image_id]
                hits = live.search(vector[None, :], 2)  # itself and the best other image
                hit_ids, hit_scores = hits.ids[0], hits.scores[0]
                others = [(i, s) for i, s in zip(hit_ids.tolist(), hit_scores.tolist()) if i != image_id and i >= 0]
                if others:
                    known_scores.append(others[0][1])
                    known_correct.append(product_of.get(others[0][0]) == own)
                impostor = self.search_vector(vector, k=1, exclude=[own])
                if impostor:
                    unknown_scores.append(impostor[0].score)
        return recognition.calibrate(np.array(known_scores), np.array(known_correct), np.array(unknown_scores))

    # --- description -----------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        model = self.active_model
        live = self.live_index()
        db_bytes = sum(f.stat().st_size for f in self.path.glob(DB_NAME + "*"))
        return {
            "path": str(self.path.resolve()),
            "products": self.store.count_products(),
            "images": self.store.count_images(),
            "model": self.model_name,
            "precision": self.precision,
            "model_key": model.key if model else None,
            "dim": model.dim if model else None,
            "index": self.index_kind,
            "index_dim": live.dim if live else None,
            "indexed_vectors": len(live) if live else 0,
            "recognition": self.calibration.to_dict(),
            "database_bytes": db_bytes,
            "generation": self.store.generation,
        }
