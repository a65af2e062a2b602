"""An index file is a cache of the store, never trusted blindly (issue #12.5, #12.6): garbage
metadata, a vector count that differs from the metadata's or the store's, or ids that are not the
store's are detected, rebuilt from the store and saved once (the next open does not rebuild again),
and `info` / `index build` work on such a catalogue."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import faiss
import numpy as np
import pytest
from click.testing import CliRunner

from productlens import Catalog
from productlens.cli import cli

pytestmark = pytest.mark.fast


@pytest.fixture(scope="module")
def template(tmp_path_factory, tiny_model, fast_photos) -> Path:
    path = tmp_path_factory.mktemp("repair") / "shop"
    with Catalog.open(path, create=True, model=tiny_model, index="faiss-flat") as shop:
        shop.add(fast_photos)
    return path


@pytest.fixture
def shop(template, tmp_path) -> Path:
    shutil.copytree(template, tmp_path / "shop")
    return tmp_path / "shop"


def meta_file(shop: Path) -> Path:
    return next((shop / "index").glob("*.json"))


def reopen_warnings(shop: Path, caplog) -> tuple[str, dict]:
    """Warnings logged while opening the catalogue and its index, and its info."""
    caplog.clear()
    with caplog.at_level(logging.WARNING), Catalog.open(shop) as catalog:
        info = catalog.info()
    return caplog.text, info


@pytest.mark.parametrize("garbage", ["{not json", "", "[]", '{"dim": "x"}', "\udcff"])
def test_garbage_metadata_is_rebuilt_and_saved_once(shop, caplog, garbage):
    meta_file(shop).write_text(garbage, errors="surrogateescape")
    warned, info = reopen_warnings(shop, caplog)
    assert "is not usable" in warned and info["indexed_vectors"] == info["images"] == 12
    assert json.loads(meta_file(shop).read_text())["count"] == 12  # saved by the reader that rebuilt it
    warned, _ = reopen_warnings(shop, caplog)
    assert warned == ""  # not rebuilt again


@pytest.mark.parametrize("command", [["info"], ["index", "build", "--kind", "flat"]])
def test_the_cli_works_on_garbage_metadata_and_repairs_it(shop, command):
    meta_file(shop).write_text("\x00\x01 garbage")
    done = CliRunner().invoke(cli, ["--catalog", str(shop), *command])
    assert done.exit_code == 0, done.output
    assert json.loads(meta_file(shop).read_text())["count"] == 12


def test_an_index_with_fewer_vectors_than_its_metadata_says_is_rebuilt(shop, caplog):
    """The issue's case: a file of 800 vectors whose metadata says 1,500 was used as it was."""
    path = meta_file(shop).with_suffix("")
    index = faiss.read_index(str(path))
    index.remove_ids(faiss.IDSelectorBatch(np.arange(1, 6, dtype=np.int64)))
    faiss.write_index(index, str(path))
    warned, info = reopen_warnings(shop, caplog)
    assert "holds 7 vectors but its metadata says 12" in warned and info["indexed_vectors"] == 12
    assert reopen_warnings(shop, caplog)[0] == ""


def test_an_index_that_disagrees_with_the_store_at_the_same_generation_is_caught_up(shop, caplog):
    """Metadata and file agree with each other (7 vectors) but the store has 12 at that generation."""
    path = meta_file(shop).with_suffix("")
    index = faiss.read_index(str(path))
    index.remove_ids(faiss.IDSelectorBatch(np.arange(1, 6, dtype=np.int64)))
    faiss.write_index(index, str(path))
    meta = json.loads(meta_file(shop).read_text())
    meta_file(shop).write_text(json.dumps({**meta, "count": 7}))
    warned, info = reopen_warnings(shop, caplog)
    assert "holds 7 vectors but the catalogue has 12" in warned and info["indexed_vectors"] == 12
    with Catalog.open(shop) as catalog:
        assert set(catalog.index.live().index.ids().tolist()) == {im.id for im in catalog.get_images()}
    assert reopen_warnings(shop, caplog)[0] == ""


def test_an_unreadable_index_file_is_rebuilt(shop, caplog):
    meta_file(shop).with_suffix("").write_bytes(b"not a faiss file")
    warned, info = reopen_warnings(shop, caplog)
    assert "cannot read index file" in warned and info["indexed_vectors"] == 12
    assert reopen_warnings(shop, caplog)[0] == ""
