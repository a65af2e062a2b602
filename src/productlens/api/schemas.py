"""Pydantic shapes of request and response bodies (they make the OpenAPI spec)."""

from __future__ import annotations

import math
from typing import Annotated, Any, Optional, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from ..catalog.ids import RULE, id_problem

Scalar = Union[str, int, float, bool, None]
MAX_ATTRIBUTE_KEY = 100  # characters of an attribute name
MAX_ATTRIBUTE_TEXT = 10_000  # characters of a text attribute value (a filter walks every one)


def checked_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """Attributes as JSON can store them and a filter can walk them in time: finite numbers (NaN
    and Infinity are not JSON), names and texts of bounded size."""
    for key, value in attributes.items():
        if not key or len(key) > MAX_ATTRIBUTE_KEY:
            raise ValueError(f"attribute names are 1 to {MAX_ATTRIBUTE_KEY} characters (one is {len(key):,})")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"attribute {key[:40]!r}: {value} is not a number JSON can hold")
        if isinstance(value, str) and len(value) > MAX_ATTRIBUTE_TEXT:
            raise ValueError(f"attribute {key[:40]!r}: {len(value):,} characters, over the {MAX_ATTRIBUTE_TEXT:,} cap")
    return attributes


Attributes = Annotated[dict[str, Scalar], AfterValidator(checked_attributes)]



class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class ProductIn(BaseModel):
    """A new product."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(description=f"The product id: {RULE} (the rule of the CLI and feeds too).")
    title: str = Field(min_length=1, max_length=500)
    category: Optional[str] = Field(None, max_length=200)
    description: Optional[str] = Field(None, max_length=5000)
    attributes: Attributes = Field(default_factory=dict, max_length=100)

    @field_validator("id")
    @classmethod
    def _id_rule(cls, value: str) -> str:
        if (problem := id_problem(value)) is not None:
            raise ValueError(f"product id not allowed: {problem} (ids: {RULE})")
        return value


class ProductUpdate(BaseModel):
    """Fields to change; an attribute set to null is removed."""

    model_config = ConfigDict(extra="forbid")
    title: Optional[str] = Field(None, min_length=1, max_length=500)
    category: Optional[str] = Field(None, max_length=200)
    description: Optional[str] = Field(None, max_length=5000)
    attributes: Attributes = Field(default_factory=dict, max_length=100)


class ProductOut(BaseModel):
    id: str
    title: str
    category: Optional[str] = None
    description: Optional[str] = None
    attributes: dict[str, Any] = {}
    image_count: int = 0


class ImageOut(BaseModel):
    id: int
    product_id: str
    width: Optional[int] = None
    height: Optional[int] = None
    format: Optional[str] = None
    added_at: str
    thumb_url: str


class ProductDetail(ProductOut):
    images: list[ImageOut]


class ProductListItem(ProductOut):
    thumb_url: Optional[str] = None  # of its first image, if it has one


class ProductList(BaseModel):
    products: list[ProductListItem]
    total: int
    offset: int
    limit: int


class Hit(ProductOut):
    rank: int
    score: float
    image_id: int
    thumb_url: str


class SearchResponse(BaseModel):
    results: list[Hit]
    facets: dict[str, dict[str, int]]
    took_ms: float


class DetectedBox(BaseModel):
    box: list[float] = Field(description="x0, y0, x1, y1 in the photo's pixels (after EXIF orientation).")
    score: float = Field(description="Calibrated probability that the box holds a product.")


class DetectResponse(BaseModel):
    objects: list[DetectedBox]
    took_ms: float


class RecognitionOut(BaseModel):
    product: Optional[ProductOut]
    known: bool
    decision: str
    similarity: float
    confidence: float
    threshold: float
    category: Optional[str]
    category_confidence: float
    candidates: list[Hit]
    calibration: str = ""


class ObjectOut(DetectedBox):
    whole_frame: bool = Field(description="Nothing was detected: the whole photo was searched instead.")
    results: list[Hit]
    recognition: RecognitionOut


class ObjectsResponse(BaseModel):
    """POST /search with objects=true: each product in the photo with its own results."""

    objects: list[ObjectOut]
    took_ms: float


class RecognizeResponse(RecognitionOut):
    """`confidence`: the calibrated probability that the top product is right, named (`known`) when
    it reaches `threshold` (same scale); `similarity`: its cosine (as /search reports it), never
    compared with the threshold; `decision`: the verdict in words."""

    took_ms: float


class SimilarResponse(BaseModel):
    product: str
    results: list[Hit]


class ImageAdded(BaseModel):
    image_id: Optional[int]
    product_id: str
    duplicate: bool


class Deleted(BaseModel):
    deleted: Union[int, str]  # an image id (a number), or a product id
    images_removed: int = 0


class Access(BaseModel):
    """What the key sent with the request may do (the web page shows write controls from it)."""

    writes_enabled: bool = Field(description="The server takes writes at all (it was started with an API key).")
    can_read: bool
    can_write: bool


class Health(BaseModel):
    status: str
    products: int
    images: int
    indexed_vectors: int
    model: str
    generation: int
