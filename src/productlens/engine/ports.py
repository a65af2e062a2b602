"""The engine's side of each feature package's port: small adapters that give text search,
duplicate finding, evaluation and training the operations they declare (their typing.Protocol),
made of the catalogue's services. The feature packages never see the store itself."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np

from ..catalog.media import MediaStore
from ..catalog.store import CatalogStore, ImageRecord, ModelRecord, Product
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


class TextAdapter:
    """What text search reads (text/search.py `TextSource`)."""

    def __init__(self, store: CatalogStore, active: ActiveModel, products: ProductCache) -> None:
        self.store, self.active, self.cache = store, active, products

    @property
    def active_model(self) -> ModelRecord | None:
        return self.active.record()

    def products(self) -> list[Product]:
        return self.cache.view().products


class DuplicatesAdapter:
    """What duplicate finding and its thresholds read and write (dedup/finder.py `DuplicateSource`)."""

    def __init__(self, path: Path, store: CatalogStore, lock: WriteLock, active: ActiveModel, searcher: Searcher) -> None:
        self.path, self.store, self.lock, self.active, self.searcher = path, store, lock, active, searcher

    @property
    def active_model(self) -> ModelRecord | None:
        return self.active.record()

    def live_index(self) -> LiveIndex | None:
        return self.active.index()

    def embedder(self) -> Embedder:
        return self.active.embedder()

    def get_product(self, product_id: str) -> Product:
        return self.store.get_product(product_id)

    def search_vector(self, vector: np.ndarray, *, k: int = 10, exclude: Any = ()) -> list[ProductHit]:
        return self.searcher.vector(vector, k=k, exclude=exclude)

    def text_search(self) -> TextSearch:
        return self.searcher.text_search()

    def writing(self) -> AbstractContextManager[None]:
        return self.lock.hold()


class EvaluationAdapter:
    """What evaluation reads (evaluation/data.py `EvaluationSource`)."""

    def __init__(self, path: Path, store: CatalogStore, active: ActiveModel, versions: ModelVersions,
                 searcher: Searcher) -> None:
        self.path, self.store, self.active, self.versions, self.searcher = path, store, active, versions, searcher

    @property
    def active_model(self) -> ModelRecord | None:
        return self.active.record()

    @property
    def model_name(self) -> str:
        return self.versions.model_name

    @property
    def models_dir(self) -> Path:
        return self.versions.models_dir

    def embedder(self) -> Embedder:
        return self.active.embedder()

    def search(self, image: Path, *, k: int = 10) -> list[ProductHit]:
        return self.searcher.photo(image, k=k, where=None, box=None, text=None, fusion="blend")

    def model_view(self, version: str | None = None) -> ModelView:
        return self.versions.view(version)


class TrainingAdapter:
    """What training uses (training/port.py `TrainingPort`)."""

    def __init__(self, path: Path, store: CatalogStore, media: MediaStore, active: ActiveModel,
                 versions: ModelVersions, recognition: RecognitionService, products: ProductCache) -> None:
        self.path, self.store, self.media, self.active = path, store, media, active
        self.versions, self.recognition, self.cache = versions, recognition, products

    @property
    def work_dir(self) -> Path:
        return self.path / "cache"

    @property
    def model_name(self) -> str:
        return self.versions.model_name

    @property
    def active_model(self) -> ModelRecord | None:
        return self.active.record()

    def products(self) -> list[Product]:
        return self.cache.view().products

    def images(self) -> list[ImageRecord]:
        return self.store.get_images()

    def image_file(self, image: ImageRecord) -> Path | None:
        return self.media.file_of(image)

    def photo_groups(self, images: Sequence[ImageRecord], seed: int = 0) -> np.ndarray:
        return self.recognition.photo_groups(images, seed)

    def embedder(self) -> Embedder:
        return self.active.embedder()

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
