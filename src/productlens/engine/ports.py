"""The engine's side of each feature package's port: small adapters that give text search,
duplicate finding, evaluation and training the operations they declare (their typing.Protocol),
made of the catalogue's services. The feature packages never see the store itself."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import meta_keys
from ..catalog.media import MediaStore
from ..catalog.store import CalibrationRecord, CatalogStore, ImageRecord, ModelRecord, Product
from ..index.live import LiveIndex
from ..models import Embedder
from ..recognition import Recognizer
from ..results import ProductHit
from ..text.search import TextSearch
from ..training.compare import FoldAnswers
from ..training.port import Photo, TrainedVersion
from .active import ActiveModel
from .lifecycle import WriteLock
from .products import ProductCache
from .recognition_service import RecognitionService
from .search import Searcher
from .versions import ModelVersions, ModelView, model_answers

WORK_DIR = "cache"  # training's caches in a catalogue: backbone features, cut networks


class TextAdapter:
    """Text search's and text vectors' port (text/port.py `TextSource`, `TextVectorsOnWrite`)."""

    def __init__(self, store: CatalogStore, active: ActiveModel, products: ProductCache) -> None:
        self.store, self.active, self.cache = store, active, products

    @property
    def generation(self) -> int:
        return self.store.generation

    @property
    def active_model(self) -> ModelRecord | None:
        return self.active.record()

    def products(self) -> list[Product]:
        return self.cache.view().products

    def keyword_matches(self, match: str, weights: Sequence[float], limit: int) -> list[tuple[str, float]]:
        return self.store.keyword_matches(match, weights, limit)

    def products_without_text_embedding(self, model: str, product_ids: Sequence[str] | None = None) -> list[str]:
        return self.store.products_without_text_embedding(model, product_ids)

    def get_products(self, product_ids: Sequence[str]) -> list[Product]:
        return self.store.get_products(product_ids)

    def put_text_embeddings(self, model: str, product_ids: Sequence[str], vectors: np.ndarray) -> None:
        self.store.put_text_embeddings(model, product_ids, vectors)

    def text_embeddings(self, model: str) -> tuple[list[str], np.ndarray | None]:
        return self.store.text_embeddings(model)

    def text_backfilled(self, model: str) -> bool:
        return self.store.get_meta(meta_keys.TEXT_BACKFILLED.format(model)) is not None

    def mark_text_backfilled(self, model: str) -> None:
        self.store.set_meta({meta_keys.TEXT_BACKFILLED.format(model): "1"})

    def image_vectors_by_product(self, model_key: str) -> Iterator[tuple[list[str | None], np.ndarray]]:
        for ids, vectors in self.store.iter_embeddings(model_key):
            owner = self.store.image_products(ids.tolist())
            yield [owner.get(i) for i in ids.tolist()], vectors

    def get_calibration(self, model_key: str, name: str) -> CalibrationRecord | None:
        return self.store.get_calibration(model_key, name)


class DuplicatesAdapter:
    """Duplicate finding's port and its review page's (dedup/port.py `DuplicateSource`, `ReviewSource`)."""

    def __init__(self, store: CatalogStore, media: MediaStore, lock: WriteLock, active: ActiveModel,
                 searcher: Searcher) -> None:
        self.store, self.media, self.lock, self.active, self.searcher = store, media, lock, active, searcher

    @property
    def active_model(self) -> ModelRecord | None:
        return self.active.record()

    def live_index(self) -> LiveIndex | None:
        return self.active.index()

    def embedder(self) -> Embedder:
        return self.active.embedder()

    def images(self, product_id: str | None = None) -> list[ImageRecord]:
        return self.store.get_images(product_id)

    def images_by_id(self, image_ids: Sequence[int]) -> list[ImageRecord]:
        return self.store.get_images(image_ids=image_ids)

    def image_vectors(self, model_key: str, image_ids: Sequence[int] | None = None,
                      batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return self.store.iter_embeddings(model_key, image_ids, batch)

    def identical_image_pairs(self) -> list[tuple[int, int]]:
        return self.store.identical_image_pairs()

    def image_products(self, image_ids: Sequence[int]) -> dict[int, str]:
        return self.store.image_products(image_ids)

    def image_bytes(self, image: ImageRecord) -> bytes | None:
        return self.media.original_bytes(image)

    def get_product(self, product_id: str) -> Product:
        return self.store.get_product(product_id)

    def get_products(self, product_ids: Sequence[str]) -> list[Product]:
        return self.store.get_products(product_ids)

    def search_vector(self, vector: np.ndarray, *, k: int = 10, exclude: Any = ()) -> list[ProductHit]:
        return self.searcher.vector(vector, k=k, exclude=exclude)

    def text_search(self) -> TextSearch:
        return self.searcher.text_search()

    def get_calibration(self, model_key: str, name: str) -> CalibrationRecord | None:
        return self.store.get_calibration(model_key, name)

    def calibrations(self) -> list[CalibrationRecord]:
        return self.store.calibrations()

    def save_calibration(self, model_key: str, name: str, value: dict[str, Any], fitted_on: str) -> None:
        with self.lock.hold():
            self.store.put_calibration(model_key, name, value, fitted_on)


class CatalogueReader:
    """What evaluation's and training's ports share: the backbone's work folder and name, the active
    version and the catalogue's images."""

    def __init__(self, path: Path, store: CatalogStore, active: ActiveModel, versions: ModelVersions) -> None:
        self.path, self.store, self.active, self.versions = path, store, active, versions

    @property
    def work_dir(self) -> Path:
        return self.path / WORK_DIR

    @property
    def model_name(self) -> str:
        return self.versions.model_name

    @property
    def active_model(self) -> ModelRecord | None:
        return self.active.record()

    def images(self) -> list[ImageRecord]:
        return self.store.get_images()


class EvaluationAdapter(CatalogueReader):
    """Evaluation's port (evaluation/data.py `EvaluationSource`)."""

    def __init__(self, path: Path, store: CatalogStore, active: ActiveModel, versions: ModelVersions,
                 searcher: Searcher) -> None:
        super().__init__(path, store, active, versions)
        self.searcher = searcher

    def embeddings(self, model_key: str) -> tuple[np.ndarray, np.ndarray]:
        return self.store.embeddings(model_key)

    def get_products(self, product_ids: Sequence[str]) -> list[Product]:
        return self.store.get_products(product_ids)

    def search(self, image: Path, *, k: int = 10) -> list[ProductHit]:
        return self.searcher.photo(image, k=k, where=None, box=None, text=None, fusion="blend")

    def model_view(self, version: str | None = None) -> ModelView:
        return self.versions.view(version)


class TrainingAdapter(CatalogueReader):
    """Training's port (training/port.py `TrainingPort`)."""

    def __init__(self, path: Path, store: CatalogStore, media: MediaStore, active: ActiveModel,
                 versions: ModelVersions, recognition: RecognitionService, products: ProductCache) -> None:
        super().__init__(path, store, active, versions)
        self.media, self.recognition, self.cache = media, recognition, products

    def products(self) -> list[Product]:
        return self.cache.view().products

    def image_file(self, image: ImageRecord) -> Path | None:
        return self.media.file_of(image)

    def photo_groups(self, images: Sequence[ImageRecord], seed: int = 0) -> np.ndarray:
        return self.recognition.photo_groups(images, seed)

    def recognizer(self) -> tuple[Recognizer, dict[str, Any] | None]:
        return self.recognition.recognizer()

    def active_answers(self, classes: Sequence[str], val: Sequence[Photo], gallery: Sequence[Photo],
                       head: dict[str, Any] | None, scale: float) -> tuple[FoldAnswers, np.ndarray] | None:
        model = self.active.record()
        if model is None:
            return None
        return model_answers(self.store, model.key, self.active.embedder(), classes, val, gallery, head, scale)

    def save_version(self, trained: TrainedVersion) -> str:
        return self.versions.save(trained)
