"""The exception tree: a few documented bases (the drawing in errors.py matches the classes), a
retryable base that real busy, locked, model-changed and over-budget failures are caught by, and
one NothingEmbeddedError, with one message, wherever the catalogue has no vectors yet."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

import productlens.errors as errors
from productlens import Catalog
from productlens.budget import check, time_budget
from productlens.cli import cli
from productlens.catalog.database import as_storage_error
from productlens.dedup import DuplicateThresholds, store_thresholds
from productlens.engine.lifecycle import WriteLock
from productlens.errors import (
    CatalogBusyError,
    CatalogError,
    ModelChangedError,
    NothingEmbeddedError,
    ProductLensError,
    RetryableError,
    StorageBusyError,
    StorageError,
    TimeBudgetError,
)
from productlens.evaluation.data import load_gallery
from tiny import add_version

pytestmark = pytest.mark.fast

TREE = {cls for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, ProductLensError)}


def drawn_edges() -> set[tuple[str, str]]:
    """(parent, child) for every line of the tree drawn in errors.py's docstring."""
    edges, stack = set(), []
    for line in errors.__doc__.splitlines():
        stripped = line.strip()
        if stripped.startswith("ProductLensError"):
            stack = ["ProductLensError"]
            continue
        for marker in ("├── ", "└── "):
            if marker in line:
                depth = line.index(marker) // 4  # four characters per level, the root's children at 1
                name = line.split(marker, 1)[1].split()[0]
                del stack[depth:]
                edges.add((stack[-1], name))
                stack.append(name)
    return edges


def test_the_root_has_a_few_grouping_children():
    children = {cls.__name__ for cls in TREE if ProductLensError in cls.__bases__}
    groups = {"InputError", "CatalogError", "RetryableError", "ModelError", "VectorIndexError", "TrainingError"}
    assert children == groups, (f"{sorted(children - groups)}: a new error subclasses the base it belongs under "
                                "(InputError for what the caller must fix, ...), not ProductLensError itself")


def test_the_drawn_tree_is_the_class_tree():
    drawn = drawn_edges()
    real = {(base.__name__, cls.__name__) for cls in TREE for base in cls.__bases__ if base in TREE}
    assert drawn == real, (f"drawn only: {sorted(drawn - real)}; not drawn: {sorted(real - drawn)} "
                           "(draw each class under its bases in errors.py's docstring)")


@pytest.mark.parametrize("cls", sorted(TREE, key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_every_class_declares_a_whole_http_answer(cls):
    assert 400 <= cls.http_status < 600 and cls.error_code() and cls.__doc__
    assert (cls.retry_after is not None) <= issubclass(cls, RetryableError)  # only a retry has a wait


def test_a_writer_held_lock_is_retryable(tmp_path):
    holder, other = WriteLock(tmp_path), WriteLock(tmp_path)
    with holder.hold():
        with pytest.raises(RetryableError) as caught:
            with other.hold(wait_s=0):
                pass
    assert isinstance(caught.value, CatalogBusyError) and isinstance(caught.value, CatalogError)
    assert caught.value.retry_after == 5 and "try again" in str(caught.value)
    with other.hold(wait_s=0):  # free again: the retry works
        pass


def test_a_database_locked_by_another_connection_is_a_retryable_storage_error(tmp_path):
    path = tmp_path / "catalog.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("create table t (x)")
    writer.execute("begin exclusive")
    other = sqlite3.connect(path, timeout=0)
    with pytest.raises(sqlite3.OperationalError) as locked:
        other.execute("insert into t values (1)")
    error = as_storage_error(locked.value, path, "write")
    assert isinstance(error, StorageBusyError) and isinstance(error, StorageError) and isinstance(error, RetryableError)
    assert "locked by another process" in str(error)
    writer.execute("rollback")
    other.execute("insert into t values (1)")  # the retry works
    writer.close(), other.close()


def test_a_spent_time_budget_is_retryable():
    with time_budget(0):
        with pytest.raises(RetryableError) as caught:
            check("walking the products")
    assert isinstance(caught.value, TimeBudgetError) and "walking the products" in str(caught.value)


def test_a_model_switch_during_a_query_is_retryable(fast_catalog, fast_queries):
    with Catalog.open(fast_catalog) as writer, Catalog.open(fast_catalog) as server:
        embedder = server.embedder()
        vector = server.searcher.embed_query(fast_queries["red-blue"], embedder=embedder)
        add_version(writer, "v2", cell=8)
        writer.versions.activate("v2", force=True)
        with pytest.raises(RetryableError) as caught:
            server.searcher.vector(vector, k=1, model_key=embedder.key)
        assert isinstance(caught.value, ModelChangedError) and caught.value.retry_after == 1
        assert server.search(fast_queries["red-blue"], k=1)[0].product.id == "red-blue"  # the retry works


@pytest.fixture
def empty_catalog(tmp_path, tiny_model):
    with Catalog.create(tmp_path / "empty", model=tiny_model, index="memory") as catalog:
        yield catalog


NEEDS_VECTORS = {
    "calibrate": lambda c: c.calibrate(),
    "photo groups": lambda c: c.recognition.photo_groups(),
    "version view": lambda c: c.versions.view(),
    "index rebuild": lambda c: c.index.rebuild(kind="flat"),
    "duplicate thresholds": lambda c: c.dedup.fit_thresholds(n=10),
    "evaluation gallery": lambda c: load_gallery(c.evaluation_port),
    "store duplicate thresholds": lambda c: store_thresholds(c.dedup.port, DuplicateThresholds(0.9, 1, 1, 0.9, 1, 1, 10, "test")),
}


@pytest.mark.parametrize("call", NEEDS_VECTORS.values(), ids=NEEDS_VECTORS.keys())
def test_nothing_embedded_is_one_error_with_one_message(empty_catalog, call):
    with pytest.raises(NothingEmbeddedError) as caught:
        call(empty_catalog)
    assert str(caught.value) == NothingEmbeddedError.MESSAGE and "productlens add" in str(caught.value)
    assert isinstance(caught.value, CatalogError)  # the index rebuild raised a CatalogError for it before


@pytest.mark.parametrize("command", [["calibrate"], ["index", "build"], ["duplicates", "--calibrate"]], ids=" ".join)
def test_the_cli_says_it_in_one_line(empty_catalog, command):
    result = CliRunner().invoke(cli, ["--catalog", str(empty_catalog.path), *command])
    assert result.exit_code == 1 and result.output == f"Error: {NothingEmbeddedError.MESSAGE}\n"
