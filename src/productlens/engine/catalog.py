"""`Catalog`: a catalogue you can add to, search by photo and ask to recognise a photo.

The one object the CLI, the REST API and the web page call: a facade with one thin method per
user-facing operation, composed of small services that do the work, each built here with what it
needs and reachable as an attribute for what is not on the facade:

    ingest       engine/ingest.py        adding products and images, editing, removing
    searcher     engine/search.py        search by photo, vector, text, both; similar products
    recognition  engine/recognition_service.py   recognising photos, fitting the threshold
    versions     engine/versions.py      model versions: files, listing, comparison, activation
    index        engine/indexing.py      the vector index: kind, info, rebuild
    dedup        engine/duplicates.py    duplicate images and products
    detection    engine/detection.py     finding the products in a photo, searching each one
    active       engine/active.py        the active model's embedder and index
    recommendations  engine/recommendations.py   interactions, recommender versions, recommendations

A catalogue is a directory:

    catalog.db      SQLite, the source of truth (products, images, models, embeddings)
    index/          vector index files, derived from catalog.db and rebuilt from it if stale
    models/         model files that belong to this catalogue (INT8 networks, trained versions)
    .write.lock     held by the process that writes

Another process may write meanwhile: every cache here follows the store's generation, and
`ActiveModel.follow` is the one place that reloads the embedder and index when another process
switched the active model (or rebuilt the index as another kind or reduction). Writes take the
write lock only to write: files are read, and images embedded, before it (engine/ingest.py); and
under it the active model is looked up again, so every image is written with the embedding of
the model that is active when it is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from .. import recognition
from ..catalog.export import ExportReport, write_feed
from ..catalog.ingest import IngestItem
from ..catalog.interactions import InteractionReport
from ..catalog.media import MediaStore
from ..catalog.store import CalibrationRecord, CatalogStore, ImageRecord, Product
from ..dedup import DuplicateReport
from ..detection import Detection
from ..detection.evaluate import DetectorReport
from ..detection.tuning import DetectorTraining
from ..errors import ProductLensError
from ..evaluation.evaluate import EvalResult, evaluate
from ..filters import as_filter
from ..images import ImageSource
from ..models import Embedder
from ..ranking import Box
from ..results import IngestReport, ObjectResult, ProductHit, ProgressSink, Recognition
from ..training import TrainConfig, TrainResult, train
from .active import ActiveModel
from .batch import BatchAnswer, search_many
from .calibrate import MAX_QUERIES
from .detection import DEFAULT_MIN_SCORE, DetectionService
from .duplicates import Duplicates
from .indexing import IndexService
from .ingest import Ingest
from .lifecycle import DB_NAME, DEFAULT_INDEX, IndexSaves, WriteLock, create_store, open_store, remove_stale_files
from .ports import DuplicatesAdapter, EvaluationAdapter, TextAdapter, TrainingAdapter
from .products import ProductCache
from .recognition_service import RecognitionService
from .recommendations import Recommendations
from .refit import Refit
from .renaming import ProductRenamer
from .search import Searcher, Where
from .versions import ModelVersions, version_head


class Catalog:
    """A product catalogue on disk. Open with `Catalog.open(path)`; close when done."""

    def __init__(self, path: Path, store: CatalogStore) -> None:
        self.path = Path(path)
        self.store = store
        self.media = MediaStore(self.path)
        self.write_lock = WriteLock(self.path, read_only=store.path if store.read_only else None)
        products = ProductCache(store)
        saves = IndexSaves(self.write_lock)
        self.active = ActiveModel(self.path, store, self.write_lock)
        self.index = IndexService(store, self.write_lock, self.active, saves)
        text = TextAdapter(store, self.active, products)
        self.ingest = Ingest(store, self.media, self.write_lock, self.active, self.index, text)
        self.renamer = ProductRenamer(store, self.write_lock, self.index, text)
        self.searcher = Searcher(store, self.active, self.index, products, text)
        self.recognition = RecognitionService(store, self.media, self.write_lock, self.active, self.searcher,
                                              partial(version_head, self.path / "models"))
        self.detection = DetectionService(self.active, self.searcher, self.recognition,
                                          self.path / "models" / "detector" / "detector.onnx", self._pictures)
        self.dedup = Duplicates(DuplicatesAdapter(store, self.media, self.write_lock, self.active, self.searcher))
        self.versions = ModelVersions(self.path, store, self.write_lock, self.active, saves,
                                      Refit(store, self.recognition, self.dedup))
        self.product_cache = products
        self.recommendations = Recommendations(self.path, store, self.write_lock, products, self.active.record)
        self.training_port = TrainingAdapter(self.path, store, self.media, self.active, self.versions, self.recognition,
                                        products)
        self.evaluation_port = EvaluationAdapter(self.path, store, self.active, self.versions, self.searcher)
        if not store.read_only:
            remove_stale_files(self.path, self.write_lock, store)

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
        self.index.saves.close(self.active.loaded_index)
        self.store.close()

    def __enter__(self) -> "Catalog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def embedder(self, quantization_images: Sequence[ImageSource] | None = None) -> Embedder:
        """The catalogue's embedder, created once (INT8 is quantised on `quantization_images` the first time)."""
        return self.active.embedder(quantization_images)

    # --- writing -----------------------------------------------------------------------------

    def add(self, source: str | Path, *, product: str | None = None, category: str | None = None,
            layout: str = "product", progress: ProgressSink | None = None) -> IngestReport:
        """Add a folder tree (`layout` "product" or "category/product"), a CSV/JSONL table, or
        images of one `product`; `category` sets the category of a folder's or image's products."""
        items = self.ingest.read_source(source, product=product, category=category, layout=layout)
        return self.ingest.add_items(items, progress)

    def add_image(self, product_id: str, image: ImageSource, *, source: str | None = None) -> int | None:
        """Attach one image to an existing product; returns its id, or None if already there."""
        return self.ingest.add_image(product_id, image, source=source)

    def add_upload(self, product_id: str, data: bytes, *, max_pixels: int | None = None) -> int | None:
        """Attach uploaded image bytes to a product, keeping the original in the catalogue's media
        folder (thumbnails are made from it); None when the product has those bytes already."""
        return self.ingest.add_upload(product_id, data, max_pixels=max_pixels)

    def upsert_product(self, product: Product) -> Product:
        """Create a product, or change the fields it gives (its text vector follows)."""
        return self.ingest.upsert_product(product)

    def update_product(self, product_id: str, **changes: Any) -> Product:
        """Change title/category/description and/or `attributes` (None removes an attribute)."""
        return self.ingest.update_product(product_id, changes)

    def remove(self, product_ids: Sequence[str]) -> int:
        """Delete products with all their images; returns the number of images removed."""
        return self.ingest.remove(product_ids)

    def remove_image(self, image_id: int) -> bool:
        return self.ingest.remove_image(image_id)

    # --- reading -----------------------------------------------------------------------------

    def get_product(self, product_id: str) -> Product:
        return self.store.get_product(product_id)

    def list_products(self, where: Where = None, *, limit: int | None = None, offset: int = 0) -> list[Product]:
        """Products matching `where` (all of them by default), cached until the next write."""
        matching = self.product_cache.view().matching(as_filter(where))
        return matching[offset: None if limit is None else offset + limit]

    def get_images(self, product_id: str | None = None, image_ids: Sequence[int] | None = None) -> list[ImageRecord]:
        """Image records of one product, of given ids, or all of them."""
        return self.store.get_images(product_id, image_ids)

    def export(self, folder: str | Path, *, fmt: str = "csv", where: Where = None) -> ExportReport:
        """Write the products matching `where` and their image files as a feed `add` reads back."""
        return write_feed(Path(folder), self.list_products(where), self.get_images(), self.media, fmt)

    # --- search and recognition ----------------------------------------------------------------

    def search(self, image: ImageSource | None = None, *, k: int = 10, where: Where = None, box: Box | None = None,
               text: str | None = None, fusion: str = "blend") -> list[ProductHit]:
        """Products that look most like the photo, best first, optionally filtered.

        With `text` as well, the photo and text rankings are fused (`fusion`: "blend" or "rrf",
        see text/hybrid.py); with `text` alone it is `search_text`."""
        if image is None:
            if text is None:
                raise ProductLensError("search needs a photo, a text, or both")
            return self.search_text(text, k=k, where=where)
        return self.searcher.photo(image, k=k, where=where, box=box, text=text, fusion=fusion)

    def search_many(self, images: Sequence[ImageSource], *, k: int = 10, where: Where = None,
                    names: Sequence[str] | None = None) -> Iterator[BatchAnswer]:
        """Each photo's products, in order, with one model load and batched embedding (engine/batch.py)."""
        return search_many(self.active, self.searcher, images, k=k, where=where, names=names)

    def search_text(self, text: str, *, k: int = 10, where: Where = None, mode: str = "auto") -> list[ProductHit]:
        """Products matching a text query: keyword (FTS5 BM25) + semantic + image bridge, fused
        with reciprocal-rank fusion; `mode` "keyword", "semantic" or "text" picks a part."""
        return self.searcher.by_text(text, k=k, where=where, mode=mode)

    def similar(self, product_id: str, *, k: int = 10, where: Where = None, blend: float = 0.0) -> list[ProductHit]:
        """Other products that look like this one (mean of its image embeddings as the query);
        `blend` in (0, 1] mixes in "often bought with" (engine/recommendations.py)."""
        if blend > 0:
            return self.recommendations.blend_similar(self.searcher.similar, product_id, k=k, where=where, weight=blend)
        return self.searcher.similar(product_id, k=k, where=where)

    def recognize(self, image: ImageSource, *, k: int = 5, box: Box | None = None) -> Recognition:
        """Name the product in the photo, or say it is not in the catalogue."""
        return self.recognition.recognize(image, k=k, box=box)

    def detect(self, image: ImageSource, *, box: Box | None = None, max_objects: int = 20,
               min_score: float | None = DEFAULT_MIN_SCORE) -> list[Detection]:
        """The products in a photo: boxes in its pixels with calibrated scores (engine/detection.py)."""
        return self.detection.detect(image, box=box, max_objects=max_objects, min_score=min_score)

    def search_objects(self, image: ImageSource, *, k: int = 5, where: Where = None, box: Box | None = None,
                       max_objects: int = 20, min_score: float | None = DEFAULT_MIN_SCORE) -> list[ObjectResult]:
        """Each product in a photo searched and recognised; the whole frame when none is detected."""
        return self.detection.search_objects(image, k=k, where=where, box=box, max_objects=max_objects,
                                             min_score=min_score)

    def _pictures(self) -> list[Path]:
        """The catalogue's image files that are still on disk (composites for `detector train`)."""
        return [f for f in map(self.media.file_of, self.get_images()) if f]

    def calibrate(self, *, photos: Iterable[IngestItem] | None = None, max_queries: int = MAX_QUERIES,
                  seed: int = 0, point: recognition.OperatingPoint = recognition.DEFAULT_POINT) -> recognition.Calibration:
        """Fit the active version's recognition confidence and threshold at the operating point
        `point`, on products left out of the catalogue (engine/recognition_service.py)."""
        return self.recognition.calibrate(photos=photos, max_queries=max_queries, seed=seed, point=point)

    def duplicates(self, *, image_threshold: float | None = None, product_threshold: float | None = None,
                   use_text: bool = True) -> DuplicateReport:
        """Clusters of near-identical images and of probably-identical products (dedup/finder.py)."""
        return self.dedup.find(image_threshold=image_threshold, product_threshold=product_threshold,
                               use_text=use_text)

    # --- recommendations (engine/recommendations.py) ----------------------------------------------

    def add_interactions(self, source_or_rows: str | Path | Iterable[dict[str, Any]], **options: Any) -> InteractionReport:
        """Add shopper events from a .csv/.jsonl file or dict rows (`weights`, `known_only`, `progress`)."""
        return self.recommendations.add(source_or_rows, **options)

    def recommend(self, *, user: str | None = None, items: Sequence[str] | None = None, product: str | None = None,
                  k: int = 10, where: Where = None, exclude_seen: bool = True) -> list[ProductHit]:
        """Products for a user, a basket (`items`) or "often bought with" a `product`, best first."""
        return self.recommendations.recommend(user=user, items=items, product=product, k=k, where=where,
                                              exclude_seen=exclude_seen)

    # --- model versions ------------------------------------------------------------------------

    def train(self, config: TrainConfig | None = None, *, val_items: list[IngestItem] | None = None,
              time_limit_s: float | str | None = None, progress: Callable[[str], None] | None = None) -> TrainResult:
        """Train on the catalogue's labels and save a new model version, not activated (training/run.py)."""
        return train(self.training_port, config, val_items=val_items, time_limit_s=time_limit_s, progress=progress)

    def evaluate(self, queries: Sequence[IngestItem], **options: Any) -> EvalResult:
        """Score the active model (and `version`, and baselines) on labelled photos (evaluation/evaluate.py)."""
        return evaluate(self.evaluation_port, queries, **options)

    # --- description -------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Products, images and the write generation: cheap enough for every metrics scrape."""
        return {"products": self.store.count_products(), "images": self.store.count_images(),
                "generation": self.store.generation}

    def info(self) -> dict[str, Any]:
        """Size, model, index and recognition threshold of the catalogue (`productlens info`)."""
        model, live, counts = self.versions.active, self.index.live(), self.counts()
        return {"path": str(self.path.resolve()), "products": counts["products"], "images": counts["images"],
                "model": self.versions.model_name, "precision": self.versions.precision,
                "model_key": model.key if model else None, "dim": model.dim if model else None,
                "index": self.index.kind, "index_dim": live.dim if live else None,
                "indexed_vectors": live.count() if live else 0,
                "recognition": _summary(self.recognition.calibration),
                "calibrations": [_fitted(c, model.key if model else None) for c in self.recognition.calibrations()],
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
