"""How the API answers each library error is declared on its class (errors.py); this table is the
contract clients see: every class of the tree has a row, and a real FastAPI app answers each
raised error with that status, JSON `{"error": {"code", "message"}}` and Retry-After."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import productlens.errors as errors
from productlens.api.errors import install_error_handlers

pytestmark = pytest.mark.fast

# class name -> (status, code, Retry-After); the codes of our own failures (5xx) are class names
EXPECTED = {
    "ProductLensError": (400, "bad-request", None),
    "InputError": (400, "bad-request", None),
    "ImageError": (422, "bad-image", None),
    "EmptyFileError": (422, "empty-file", None),
    "NotAnImageError": (422, "not-an-image", None),
    "CorruptImageError": (422, "corrupt", None),
    "ImageTooLargeError": (413, "too-large", None),
    "NotAFileError": (422, "not-a-file", None),
    "ReadTimeoutError": (422, "read-timeout", None),
    "FilterSyntaxError": (400, "bad-filter", None),
    "TextQueryError": (400, "bad-request", None),
    "IngestError": (400, "bad-request", None),
    "ExportError": (400, "bad-request", None),
    "CatalogError": (500, "CatalogError", None),
    "CatalogNotFoundError": (500, "CatalogNotFoundError", None),
    "CatalogExistsError": (500, "CatalogExistsError", None),
    "ProductNotFoundError": (404, "product-not-found", None),
    "ModelMismatchError": (500, "ModelMismatchError", None),
    "NothingEmbeddedError": (409, "nothing-embedded", None),
    "StaleCalibrationError": (400, "bad-request", None),
    "StorageError": (500, "storage", None),
    "StorageBusyError": (503, "busy", "5"),
    "CatalogBusyError": (503, "busy", "5"),
    "ModelChangedError": (503, "model-changed", "1"),
    "RetryableError": (503, "unavailable", None),
    "TimeBudgetError": (504, "timeout", None),
    "ModelError": (500, "ModelError", None),
    "UnknownModelError": (500, "UnknownModelError", None),
    "VectorIndexError": (500, "VectorIndexError", None),
    "DimensionMismatchError": (500, "DimensionMismatchError", None),
    "TrainingError": (400, "bad-request", None),
    "ActivationRefusedError": (400, "bad-request", None),
}


@pytest.fixture(scope="module")
def client():
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/raise/{name}")
    def raise_it(name: str) -> None:
        raise getattr(errors, name)(f"a {name} happened")

    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_the_table_covers_the_whole_tree():
    tree = {name for name, obj in vars(errors).items()
            if isinstance(obj, type) and issubclass(obj, errors.ProductLensError)}
    assert tree == set(EXPECTED), (f"no row for {sorted(tree - set(EXPECTED))}: add the answer each gets "
                                   "(declared on the class, or inherited) to EXPECTED")


@pytest.mark.parametrize("name", EXPECTED)
def test_each_error_is_answered_as_its_class_declares(client, name):
    status, code, retry_after = EXPECTED[name]
    reply = client.get(f"/raise/{name}")
    assert (reply.status_code, reply.json()) == (status, {"error": {"code": code, "message": f"a {name} happened"}})
    assert reply.headers.get("Retry-After") == retry_after


def test_an_error_that_is_not_ours_stays_an_opaque_500(client):
    reply = client.get("/raise/KeyError")  # not in the errors module: the route fails with AttributeError
    assert reply.status_code == 500 and reply.json() == {"error": {"code": "internal", "message": "internal server error"}}
