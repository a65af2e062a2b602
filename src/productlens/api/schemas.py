"""Pydantic shapes of request and response bodies (they make the OpenAPI spec)."""

from __future__ import annotations

from typing import Any, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

PRODUCT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
Scalar = Union[str, int, float, bool, None]


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class ProductIn(BaseModel):
    """A new product."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=PRODUCT_ID_PATTERN, description="Letters, digits, '.', '_' or '-'.")
    title: str = Field(min_length=1, max_length=500)
    category: Optional[str] = Field(None, max_length=200)
    description: Optional[str] = Field(None, max_length=5000)
    attributes: dict[str, Scalar] = Field(default_factory=dict, max_length=100)


class ProductUpdate(BaseModel):
    """Fields to change; an attribute set to null is removed."""

    model_config = ConfigDict(extra="forbid")
    title: Optional[str] = Field(None, min_length=1, max_length=500)
    category: Optional[str] = Field(None, max_length=200)
    description: Optional[str] = Field(None, max_length=5000)
    attributes: dict[str, Scalar] = Field(default_factory=dict, max_length=100)


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


class RecognizeResponse(BaseModel):
    """`confidence`: the calibrated probability that the top product is right, named (`known`) when
    it reaches `threshold` (same scale); `similarity`: its cosine (as /search reports it), never
    compared with the threshold; `decision`: the verdict in words."""

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
    took_ms: float


class SimilarResponse(BaseModel):
    product: str
    results: list[Hit]


class ImageAdded(BaseModel):
    image_id: Optional[int]
    product_id: str
    duplicate: bool


class Deleted(BaseModel):
    deleted: str
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
