"""The engine: `Catalog` (catalog.py) and the work it hands out, one module per concern.

    catalog.py    the facade: opening, locks, model and index lifecycle; every public method
    ingest.py     adding products and images (batched, resumable), importing embedding jobs
    shards.py     gathering the Parquet shards of a distributed `embed` run (import-shards)
    search.py     query embedding, candidate scope and filter push-down, product hits
    products.py   the product cache and the one product filter
    recognize.py  open-set recognition (calibrated threshold, or a trained version's head)
    calibrate.py  choosing the recognition threshold
    models.py     model versions: the embedder of each, listing, activation
    indexing.py   rebuilding and tuning the vector index
    active.py     the active model's embedder and index, following switches by other processes
    lifecycle.py  creating and opening the store, the write lock, when index files are saved
"""

from ..results import IngestReport, ProductHit, ProgressSink, Recognition, Skipped
from .catalog import DEFAULT_INDEX, Catalog
from .ingest import CALIBRATION_IMAGES

__all__ = ["CALIBRATION_IMAGES", "Catalog", "DEFAULT_INDEX", "IngestReport", "ProductHit", "ProgressSink", "Recognition",
           "Skipped"]
