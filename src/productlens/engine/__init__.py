"""The engine: `Catalog` (catalog.py) and the work it hands out, one module per concern.

    catalog.py    the facade: opening, one thin method per user-facing operation, the services
    ingest.py     Ingest: adding products and images (batched, resumable), editing, removing, importing jobs
    search.py     Searcher: query embedding, candidate scope and filter push-down, text and hybrid, product hits
    products.py   the product cache and the one product filter
    recognition_service.py  RecognitionService: recognising, fitting the threshold, photo groups
    recognize.py  open-set recognition (calibrated threshold, or a trained version's head)
    calibrate.py  choosing the recognition threshold
    versions.py   ModelVersions: the version folder layout, listing, comparison, activation, saving
    models.py     the embedder of a model version, embedding what a version lacks
    refit.py      refitting what was fitted on the old version's vectors after a switch
    indexing.py   IndexService: the vector index, rebuilding and tuning it
    duplicates.py Duplicates: duplicate images and products, their thresholds
    ports.py      adapters that give each feature package the operations its port declares
    active.py     the active model's embedder and index, following switches by other processes
    lifecycle.py  creating and opening the store, the write lock, when index files are saved
"""

from ..results import IngestReport, ProductHit, ProgressSink, Recognition, Skipped
from .catalog import DEFAULT_INDEX, Catalog
from .ingest import QUANTIZATION_IMAGES

__all__ = ["QUANTIZATION_IMAGES", "Catalog", "DEFAULT_INDEX", "IngestReport", "ProductHit", "ProgressSink", "Recognition",
           "Skipped"]
