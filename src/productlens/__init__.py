"""productlens: visual product search and recognition.

    from productlens import Catalog
    with Catalog.open("./shop") as shop:
        for hit in shop.search("snap.jpg", k=5, where="category = 'Milk'"):
            print(hit.rank, hit.score, hit.product.title)
"""

from .catalog.export import ExportReport
from .catalog.store import ImageRecord, Product
from .engine import Catalog
from .results import ActivationReport, IngestReport, ProductHit, Recognition, Skipped
from .errors import (
    ActivationRefusedError,
    CatalogBusyError,
    CatalogError,
    CatalogExistsError,
    CatalogNotFoundError,
    CorruptImageError,
    DimensionMismatchError,
    EmptyFileError,
    ExportError,
    FilterSyntaxError,
    ImageError,
    ImageTooLargeError,
    IngestError,
    InputError,
    ModelChangedError,
    ModelError,
    ModelMismatchError,
    NotAFileError,
    NotAnImageError,
    NothingEmbeddedError,
    ProductLensError,
    ProductNotFoundError,
    ReadTimeoutError,
    RetryableError,
    StaleCalibrationError,
    StorageBusyError,
    StorageError,
    TextQueryError,
    TimeBudgetError,
    TrainingError,
    UnknownModelError,
    VectorIndexError,
)

__version__ = "0.1.0"

__all__ = [
    "ActivationRefusedError",
    "ActivationReport",
    "Catalog",
    "CatalogBusyError",
    "CatalogError",
    "CatalogExistsError",
    "CatalogNotFoundError",
    "CorruptImageError",
    "DimensionMismatchError",
    "EmptyFileError",
    "ExportError",
    "ExportReport",
    "FilterSyntaxError",
    "ImageError",
    "ImageRecord",
    "ImageTooLargeError",
    "IngestError",
    "IngestReport",
    "InputError",
    "ModelChangedError",
    "ModelError",
    "ModelMismatchError",
    "NotAFileError",
    "NotAnImageError",
    "NothingEmbeddedError",
    "Product",
    "ProductHit",
    "ProductLensError",
    "ProductNotFoundError",
    "ReadTimeoutError",
    "Recognition",
    "RetryableError",
    "Skipped",
    "StaleCalibrationError",
    "StorageBusyError",
    "StorageError",
    "TextQueryError",
    "TimeBudgetError",
    "TrainingError",
    "UnknownModelError",
    "VectorIndexError",
    "__version__",
]
