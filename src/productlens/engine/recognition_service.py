"""Recognition for a catalogue (`Recognition`, `Catalog.recognition`): recognising photos, fitting
the active model version's recognition confidence and threshold, and grouping the catalogue's
photos into bursts (what honest validation holds out together). Every value fitted here is
stored for the active model version only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from .. import recognition
from ..catalog.ingest import IngestItem
from ..catalog.media import MediaStore
from ..catalog.store import CalibrationRecord, CatalogStore, ImageRecord, ModelRecord
from ..errors import NothingEmbeddedError, ProductLensError
from ..images import ImageSource
from ..ranking import Box
from ..recognition import CANDIDATES, DEFAULT_POINT, OperatingPoint, Recognizer
from ..results import Recognition
from . import calibrate, recognize
from .active import ActiveModel
from .batch import BatchVerdict, embed_many
from .lifecycle import WriteLock
from .search import Searcher

Heads = Callable[[ModelRecord | None], "dict[str, Any] | None"]  # a version's trained head (engine/versions.py)


class RecognitionService:
    """Recognition, its calibration, and photo groups of one catalogue (see the module docstring)."""

    def __init__(self, store: CatalogStore, media: MediaStore, lock: WriteLock, active: ActiveModel,
                 searcher: Searcher, heads: Heads) -> None:
        self.store, self.media, self.lock, self.active = store, media, lock, active
        self.searcher, self.heads = searcher, heads

    def recognizer(self) -> tuple[Recognizer, dict[str, Any] | None]:
        """The active version's recogniser, and its trained head (None off-the-shelf)."""
        model = self.active.record()
        head = self.heads(model)
        return recognize.recognizer_of(self.store, model, head), head

    @property
    def calibration(self) -> recognition.Calibration:
        """The active version's recognition confidence model and threshold."""
        return self.recognizer()[0].calibration

    def recognize(self, image: ImageSource, *, k: int = 5, box: Box | None = None) -> Recognition:
        """Name the product in the photo, or say it is not in the catalogue."""
        embedder = self.active.embedder()
        vector = self.searcher.embed_query(image, box, embedder=embedder)
        return self.recognize_vector(vector, k=k, model_key=embedder.key)

    def recognize_many(self, images: Sequence[ImageSource], *, k: int = 5,
                       names: Sequence[str] | None = None) -> Iterator[BatchVerdict]:
        """Each photo recognised, in order, with one model load and batched embedding; a photo
        that cannot be used is a verdict with an error, and the batch goes on (engine/batch.py)."""
        embedder = self.active.embedder()
        for item in embed_many(embedder, images, names):
            if item.vector is None:
                yield BatchVerdict(item.query, error=item.error, reason=item.reason)
            else:
                yield BatchVerdict(item.query, self.recognize_vector(item.vector, k=k, model_key=embedder.key))

    def recognize_vector(self, vector: np.ndarray, *, k: int = 5, model_key: str | None = None) -> Recognition:
        """Recognition of a query embedding (engine/recognize.py): its nearest products scored by
        the active version's recogniser, the top one named if its confidence reaches the threshold.
        `model_key`: the model that made `vector` (ModelChangedError if no longer active)."""
        recognizer, head = self.recognizer()
        candidates = self.searcher.vector(vector, k=max(k, CANDIDATES), model_key=model_key)
        return recognize.recognize(recognizer, vector, candidates, head, k)

    def calibrate(self, *, photos: Iterable[IngestItem] | None = None, max_queries: int = calibrate.MAX_QUERIES,
                  seed: int = 0, point: OperatingPoint = DEFAULT_POINT) -> recognition.Calibration:
        """Fit the active version's recognition confidence and threshold (at `point`) and store them
        for it, on whole products left out of the catalogue in rotating folds: the catalogue's own
        photos, or labelled `photos` that are not in the catalogue (engine/calibrate.py)."""
        model = self.active.record()
        if model is None or self.active.index() is None:
            raise NothingEmbeddedError()
        recognizer, head = self.recognizer()
        if head is not None and photos is None:
            # Measured on Grocery: calibrated this way, a trained version printed 90% of unknown products
            # rejected and then rejected 36% of products it never learnt (benchmarks/bench_openset.py).
            raise ProductLensError(
                f"{model.version} was trained on the catalogue's products: leaving them out of the catalogue does not "
                "make them unknown to it, so it keeps the calibration it was trained with; pass --photos with labelled "
                "photos of products it never learnt, or calibrate an off-the-shelf version")
        search = self.searcher.vector
        with self.lock.hold():
            embedder = self.active.embedder()
            if photos is not None:
                products = sorted({im.product_id for im in self.store.get_images()})
                fitted = calibrate.on_photos(embedder, search, recognizer, head, list(photos), products, point, seed)
            else:
                burst = calibrate.burst_threshold(self.store, self.media, embedder, model, seed)
                fitted = calibrate.on_products(self.store, model, search, recognizer, head, burst, point,
                                               max_queries=max_queries, seed=seed)
            calibrate.save(self.store, model, fitted)
        return fitted.calibration

    def photo_groups(self, images: Sequence[ImageRecord] | None = None, seed: int = 0) -> np.ndarray:
        """A burst group number per catalogue image (all of them by default), in the active
        version's embedding space: photos taken moments apart share one (training/groups.py)."""
        model = self.active.record()
        if model is None:
            raise NothingEmbeddedError()
        images = self.store.get_images() if images is None else images
        with self.lock.hold():
            burst = calibrate.burst_threshold(self.store, self.media, self.active.embedder(), model, seed)
        return calibrate.photo_groups(self.store, model, images, burst, seed)

    def calibrations(self, model_key: str | None = None) -> list[CalibrationRecord]:
        """Every value fitted on a model version's vectors (all versions by default)."""
        return self.store.calibrations(model_key)
