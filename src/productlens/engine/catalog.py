"""`Catalog`: a catalogue you can add to, search by photo and ask to recognise a photo.

The one object the CLI, the REST API and the web page call. It owns the lifecycle (opening,
locks, the model and the vector index) and hands the work to the modules beside it:
ingest.py, search.py, recognize.py, calibrate.py, models.py (versions) and indexing.py. A
catalogue is a directory:

    catalog.db      SQLite, the source of truth (products, images, models, embeddings)
    index/          vector index files, derived from catalog.db and rebuilt from it if stale
    models/         model files that belong to this catalogue (e.g. INT8 calibrated on its images)
    .write.lock     held by the process that writes

Another process may write meanwhile: every cache here follows the store's generation, and
`_follow_active_model` is the one place that reloads the embedder and index when another
process switched the active model (or rebuilt the index as another kind or reduction).
Writes take the write lock only to write: files are read, and images embedded, before it
(engine/ingest.py); and under it the active model is looked up again, so every image is written
with the embedding of the model that is active when it is written.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .. import recognition
from ..catalog.export import ExportReport, write_feed
from ..catalog.ingest import IngestItem, read_source
from ..catalog.media import UPLOAD_PREFIX, MediaStore
from ..catalog.store import CalibrationRecord, CatalogStore, ImageRecord, ModelRecord, Product
from ..dedup import DedupCalibration, DuplicateReport, calibrate_on_copies, find_duplicates, store_calibration
from ..errors import CatalogError, ModelChangedError, ProductLensError
from ..filters import Filter, as_filter
from ..images import ImageSource, load_image
from ..index import is_remote
from ..index.live import LiveIndex
from ..models import Embedder
from ..ranking import Box
from ..results import IngestReport, ProductHit, ProgressSink
from ..text import semantic
from ..text.search import POOL, TextSearch
from . import indexing, ingest, models
from .active import ActiveModel
from .catalog_models import ModelMethods
from .catalog_recognition import RecognitionMethods
from .instance import InstanceSpace, instance_space
from .lifecycle import DB_NAME, DEFAULT_INDEX, SaveThrottle, WriteLock, create_store, open_store, remove_stale_files
from .products import ProductCache
from .search import VectorSearch, mean_image_vector, product_hits, query_image

Where = str | Filter | None  # a product filter: text ("category = 'Milk' and price < 3") or parsed


class Catalog(RecognitionMethods, ModelMethods):
    """A product catalogue on disk. Open with `Catalog.open(path)`; close when done."""

    def __init__(self, path: Path, store: CatalogStore) -> None:
        self.path = Path(path)
        self.store = store
        self.media = MediaStore(self.path)
        self._products = ProductCache(store)
        self._text: TextSearch | None = None
        self._init_lock = threading.RLock()
        self._write_lock = WriteLock(self.path, read_only=store.path if store.read_only else None)
        self._index_saves = SaveThrottle(self._write_lock)
        self._model = ActiveModel(self.path, store, self._write_lock)
        if not store.read_only:
            remove_stale_files(self.path, self._write_lock)

    # --- opening ---------------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | Path, *, model: str | None = None, precision: str = "fp32",
               index: str = DEFAULT_INDEX) -> "Catalog":
        """Create an empty catalogue directory (refuses to overwrite an existing one)."""
        return cls(Path(path), create_store(Path(path), model=model, precision=precision, index=index))

    @classmethod
    def open(cls, path: str | Path, *, create: bool = False, model: str | None = None, precision: str | None = None,
             index: str | None = None) -> "Catalog":
        """Open a catalogue; with create=True make it if missing. A model that differs from the
        catalogue's raises ModelMismatchError (embeddings of two models are not comparable); an
        index kind that differs raises CatalogError (change it with `productlens index build`)."""
        path = Path(path)
        if create and not (path / DB_NAME).exists():
            return cls.create(path, model=model, precision=precision or "fp32", index=index or DEFAULT_INDEX)
        return cls(path, open_store(path, model=model, precision=precision, index=index))

    def close(self) -> None:
        self._index_saves.close(self._model.loaded_index)
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

    @property
    def models_dir(self) -> Path:
        return self.path / "models"

    @property
    def index_kind(self) -> str:
        """The index kind the catalogue uses (faiss-flat, faiss-hnsw, ..., milvus://host:port)."""
        return str(self.store.get_meta("index_kind", DEFAULT_INDEX))

    # --- model and index lifecycle -----------------------------------------------------------

    @property
    def active_model(self) -> ModelRecord | None:
        return models.active_record(self.store)

    def _follow_active_model(self) -> None:
        """Drop the embedder and index when another process switched the active model (or rebuilt
        the index as another kind or reduction): they are loaded again on next use (active.py)."""
        if self._model.follow():
            with self._init_lock:
                self._text = None

    def embedder(self, calibration: Sequence[ImageSource] | None = None) -> Embedder:
        """The catalogue's embedder, created once (INT8 needs calibration images the first time)."""
        self._follow_active_model()
        images = None
        if calibration is not None and self._model.loaded_embedder is None:
            images = [load_image(s).image for s in calibration]
        return self._model.embedder(self.model_name, self.precision, images)

    def live_index(self) -> LiveIndex | None:
        """The active model's vector index, opened once and kept in step with the store; None
        while nothing was ever embedded. Vectors passed to it are the model's (it reduces them).
        A stale or damaged index file is rebuilt on open, and saved (engine/active.py)."""
        self._follow_active_model()
        return self._model.index(self.index_kind)

    def model_and_index(self) -> tuple[Embedder, LiveIndex]:
        """The active model's embedder and index, as one pair (another process may switch the
        model between loading one and the other: then both are loaded again)."""
        try:
            return self._model.pair(self.embedder(), self.live_index())
        except ModelChangedError:
            return self._model.pair(self.embedder(), self.live_index())

    def adopt(self, embedder: Embedder, live: LiveIndex) -> None:
        """Use a newly activated version's embedder and index from now on (the engine's activation calls this)."""
        self._model.install(embedder, live)
        with self._init_lock:
            self._text = None

    def rebuild_index(self, *, kind: str = "auto", budget: str | None = None, recall: float = 0.95, sample: int = 200,
                      reduce_dim: int | None = None, whiten: bool = False, rerank: int | None = None) -> dict[str, Any]:
        """Rebuild the index from the stored embeddings, as another kind if asked (`auto`: chosen for
        the catalogue's size within `budget`, e.g. "2GB"), optionally PCA-reduced, tuned to `recall`.
        The new kind, reduction and index file take effect together, in one store write."""
        live = self.live_index()
        if live is None:
            raise CatalogError("the catalogue has no embeddings yet; add images first")
        with self.writing():
            try:
                return indexing.rebuild(self.store, live, kind=kind, budget=budget, recall=recall, sample=sample,
                                        reduce_dim=reduce_dim, whiten=whiten, rerank=rerank)
            except BaseException:
                self._model.drop_index()  # opened again as the store still has it: the old kind and reduction
                raise

    def index_info(self) -> dict[str, Any]:
        """Kind, size and parameters of the vector index."""
        live = self.live_index()
        return live.describe() if live is not None else {"kind": self.index_kind, "count": 0}

    # --- writing -----------------------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the catalogue's write lock: one writer at a time, across threads and processes.

        Wrap a group of store and index writes that must not interleave with another writer's
        (each store write is still its own transaction). Re-entrant within a thread. A read-only
        catalogue refuses at once (StorageError).
        """
        with self._write_lock.hold():
            yield

    def add(self, source: str | Path, *, product: str | None = None, category: str | None = None,
            layout: str = "product", progress: ProgressSink | None = None) -> IngestReport:
        """Add a folder tree (`layout` "product" or "category/product"), a CSV/JSONL table, or
        images of one `product`; `category` sets the category of a folder's or image's products."""
        return self.add_items(self.read_source(source, product=product, category=category, layout=layout),
                              progress=progress)

    def read_source(self, source: str | Path, *, product: str | None = None, category: str | None = None,
                    layout: str = "product") -> list[IngestItem]:
        """What `add` would add from `source` (catalog/ingest.py): a table with no image column is
        a products-only update when every product it names already has photos here."""
        return list(read_source(source, product=product, category=category, layout=layout,
                                products_with_images=lambda ids: self.first_images(ids)))

    def add_items(self, items: Iterable[IngestItem], *, progress: ProgressSink | None = None) -> IngestReport:
        """Upsert the products, then embed and add the images that are new (see engine/ingest.py)."""
        return ingest.add_items(self, list(items), self._fields_changing, progress)

    def import_job(self, folder: str | Path) -> dict[str, int]:
        """Add the vectors of a finished `embed` job folder (all shards) without re-embedding."""
        self.embedder()  # registers the model in a new catalogue
        with self.writing():
            embedder, live = self.model_and_index()
            return ingest.import_job(self.store, live, embedder.key, Path(folder))

    def _fields_changing(self, product_ids: Sequence[str]) -> AbstractContextManager[None]:
        """Wrap writes to product fields: a server index keeps a copy of them to filter on."""
        live = self.live_index() if is_remote(self.index_kind) else None
        if live is None:
            return nullcontext()
        return live.fields_changing([p.id for p in self.store.get_products(list(product_ids))])

    def add_image(self, product_id: str, image: ImageSource, *, source: str | None = None) -> int | None:
        """Attach one image to an existing product; returns its id, or None if already there."""
        self.store.get_product(product_id)
        image_id, live = ingest.add_image(self, product_id, image, source)
        if image_id is not None:
            with self.writing():
                self._index_saves.wrote(live)
        return image_id

    def add_upload(self, product_id: str, data: bytes, *, max_pixels: int | None = None) -> int | None:
        """Attach uploaded image bytes to a product, keeping the original in the catalogue's media
        folder (thumbnails are made from it); None when the product has those bytes already."""
        self.store.get_product(product_id)
        loaded = load_image(data, max_pixels=max_pixels)  # refuse non-images before anything is stored
        self.media.save_original(data, loaded.format)
        return self.add_image(product_id, data, source=f"{UPLOAD_PREFIX}{loaded.sha256}")

    def upsert_product(self, product: Product) -> Product:
        """Create a product, or change the fields it gives (its text vector follows)."""
        with self.writing():
            with self._fields_changing([product.id]):
                self.store.upsert_products([product])
            semantic.sync_on_write(self.store, [product.id])
        return self.store.get_product(product.id)

    def update_product(self, product_id: str, **changes: Any) -> Product:
        """Change title/category/description and/or `attributes` (None removes an attribute)."""
        with self.writing():
            with self._fields_changing([product_id]):
                product = self.store.update_product(product_id, changes)
            semantic.sync_on_write(self.store, [product_id])
        return product

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
            self._index_saves.wrote(live)

    # --- reading -----------------------------------------------------------------------------

    def get_product(self, product_id: str) -> Product:
        return self.store.get_product(product_id)

    def products(self) -> list[Product]:
        """All products, cached until the next write."""
        return self._products.view().products

    def list_products(self, where: Where = None, *, limit: int | None = None, offset: int = 0) -> list[Product]:
        matching = self._products.view().matching(as_filter(where))
        return matching[offset: None if limit is None else offset + limit]

    def get_images(self, product_id: str | None = None, image_ids: Sequence[int] | None = None) -> list[ImageRecord]:
        """Image records of one product, of given ids, or all of them."""
        return self.store.get_images(product_id, image_ids)

    def first_images(self, product_ids: Sequence[str]) -> dict[str, int]:
        """product id -> its first image's id (products without images are left out)."""
        return self.store.first_images(product_ids)

    def export(self, folder: str | Path, *, fmt: str = "csv", where: Where = None) -> ExportReport:
        """Write the products matching `where` and their image files as a feed `add` reads back."""
        return write_feed(Path(folder), self.list_products(where), self.get_images(), self.media, fmt)

    def image_file(self, image: ImageRecord) -> Path | None:
        """The file an image's bytes can be read from (an upload's stored copy, or its source)."""
        return self.media.file_of(image)

    def thumbnail(self, image: ImageRecord, size: int) -> Path | None:
        """A cached JPEG thumbnail of an image, or None when its file is gone."""
        return self.media.thumbnail(image, size)

    # --- search ------------------------------------------------------------------------------

    def embed_query(self, image: ImageSource, box: Box | None = None, *, max_pixels: int | None = None,
                    embed: Callable[[Image.Image], np.ndarray] | None = None, embedder: Embedder | None = None) -> np.ndarray:
        """A query photo's embedding: decoded (full size when cropping, so the box is in original
        pixels), cropped, embedded by `embedder` (default: the catalogue's model) or by `embed`
        (e.g. a micro-batcher running that embedder)."""
        embedder = embedder or self.embedder()
        picture = query_image(image, box, embedder.draft_size, max_pixels=max_pixels)
        return embed(picture) if embed is not None else embedder.embed([picture])[0]

    def search(self, image: ImageSource | None = None, *, k: int = 10, where: Where = None, box: Box | None = None,
               text: str | None = None, fusion: str = "blend") -> list[ProductHit]:
        """Products that look most like the photo, best first, optionally filtered.

        With `text` as well, the photo and text rankings are fused (`fusion`: "blend" or "rrf",
        see text/hybrid.py); with `text` alone it is `search_text`."""
        if image is None:
            if text is None:
                raise ProductLensError("search needs a photo, a text, or both")
            return self.search_text(text, k=k, where=where)
        try:
            return self._search_photo(image, box, text, k, where, fusion)
        except ModelChangedError:  # another process switched the model during the query: once more, with the new one
            return self._search_photo(image, box, text, k, where, fusion)

    def _search_photo(self, image: ImageSource, box: Box | None, text: str | None, k: int, where: Where,
                      fusion: str) -> list[ProductHit]:
        embedder = self.embedder()
        vector = self.embed_query(image, box, embedder=embedder)
        if text is None:
            return self.search_vector(vector, k=k, where=where, model_key=embedder.key)
        return self.search_hybrid(vector, text, k=k, where=where, fusion=fusion, model_key=embedder.key)

    def search_vector(self, vector: np.ndarray, *, k: int = 10, where: Where = None, exclude: Sequence[str] = (),
                      exclude_images: Sequence[int] = (), model_key: str | None = None) -> list[ProductHit]:
        """Products whose images are nearest `vector` (an embedding of the active model, or of
        `model_key`: ModelChangedError when that is no longer the active one), best first; `where`
        filters the products, `exclude` leaves products out and `exclude_images` images (engine/search.py)."""
        live = self.live_index()
        if live is None:
            return []
        if model_key is not None and model_key != live.model_key:
            raise ModelChangedError(f"the catalogue switched to model {live.model_key} during this query; try again")
        return VectorSearch(self.store, live, self._products).run(vector, k, as_filter(where), exclude, exclude_images)

    def search_hybrid(self, vector: np.ndarray, text: str, *, k: int = 10, where: Where = None,
                      fusion: str = "blend", model_key: str | None = None) -> list[ProductHit]:
        """A query photo's embedding and a text, their rankings fused (text/hybrid.py)."""
        flt = as_filter(where)
        image_hits = self.search_vector(vector, k=POOL, where=flt, model_key=model_key)
        ranking = [(h.product.id, h.score, h.image_id) for h in image_hits]
        allowed = self._products.allows(flt)
        return product_hits(self.store, self.text_search().fuse(ranking, text, k, allowed, fusion=fusion))

    def search_text(self, text: str, *, k: int = 10, where: Where = None, mode: str = "auto") -> list[ProductHit]:
        """Products matching a text query: keyword (FTS5 BM25) + semantic + image bridge, fused
        with reciprocal-rank fusion; `mode` "keyword", "semantic" or "text" picks a part."""
        allowed = self._products.allows(as_filter(where))
        ranked = self.text_search().search(text, allowed, k, mode=mode)
        return product_hits(self.store, [(pid, score, -1) for pid, score in ranked])

    def text_search(self) -> TextSearch:
        """The catalogue's text search (text/search.py), created once."""
        with self._init_lock:
            if self._text is None:
                self._text = TextSearch(self)
            return self._text

    def similar(self, product_id: str, *, k: int = 10, where: Where = None) -> list[ProductHit]:
        """Other products that look like this one (mean of its image embeddings as the query)."""
        model = self.active_model
        self.store.get_product(product_id)
        query = mean_image_vector(self.store, model.key, product_id) if model is not None else None
        return [] if query is None else self.search_vector(query, k=k, where=where, exclude=[product_id])

    def duplicates(self, *, image_threshold: float | None = None, product_threshold: float | None = None,
                   use_text: bool = True) -> DuplicateReport:
        """Clusters of near-identical images and of probably-identical products (dedup/finder.py)."""
        return find_duplicates(self, image_threshold=image_threshold, product_threshold=product_threshold,
                               use_text=use_text)

    def calibrate_duplicates(self, *, n: int = 200, seed: int = 0, use_text: bool = True) -> DedupCalibration:
        """Choose and store the duplicate thresholds on `n` synthetic copies (dedup/calibrate.py)."""
        cal, key = calibrate_on_copies(self, n=n, seed=seed, use_text=use_text)
        store_calibration(self, cal, key)
        return cal

    def near_copy_space(self) -> InstanceSpace:
        """The vectors duplicates are found with: the off-the-shelf model's, whatever version is
        active (engine/instance.py)."""
        return instance_space(self.path, self.store, self.writing)

    # --- description -------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Products, images and the write generation: cheap enough for every metrics scrape."""
        return {"products": self.store.count_products(), "images": self.store.count_images(),
                "generation": self.store.generation}

    def info(self) -> dict[str, Any]:
        """Size, model, index and recognition threshold of the catalogue (`productlens info`)."""
        model, live, counts = self.active_model, self.live_index(), self.counts()
        return {"path": str(self.path.resolve()), "products": counts["products"], "images": counts["images"],
                "model": self.model_name, "precision": self.precision, "model_key": model.key if model else None,
                "dim": model.dim if model else None, "index": self.index_kind, "index_dim": live.dim if live else None,
                "indexed_vectors": live.count() if live else 0, "recognition": _summary(self.calibration),
                "calibrations": [_fitted(c, model.key if model else None) for c in self.calibrations()],
                "database_bytes": sum(f.stat().st_size for f in self.path.glob(DB_NAME + "*")),
                "generation": counts["generation"]}


def _summary(cal: recognition.Calibration) -> dict[str, Any]:
    """The recognition calibration without its trade-off curve (that is for `calibrate`)."""
    return {k: v for k, v in cal.to_dict().items() if k != "curve"}


def _fitted(record: CalibrationRecord, active: str | None) -> dict[str, Any]:
    """What `info` lists of a calibration: which version, on what, when (and for the active one, the value)."""
    out = {"name": record.name, "model_key": record.model_key, "active": record.model_key == active,
           "fitted_on": record.fitted_on, "fitted_at": record.fitted_at, "generation": record.generation}
    if record.model_key == active and record.name != "recognition":
        out["value"] = record.value
    return out
