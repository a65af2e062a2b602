"""When the index file is saved (engine/lifecycle.py `IndexSaves`), on a real catalogue's index:
small writes at most every interval and on close, a long ingest at its end, a rebuild at once."""

from __future__ import annotations

import pytest

from productlens import Catalog
from productlens.engine.lifecycle import IndexSaves

pytestmark = pytest.mark.fast


def counted_saves(live, monkeypatch) -> list[dict | None]:
    saved: list[dict | None] = []
    real = live.save

    def save(meta=None):
        saved.append(meta)
        real(meta)

    monkeypatch.setattr(live, "save", save)
    return saved


def test_small_writes_are_throttled_and_saved_on_close(fast_catalog, monkeypatch):
    with Catalog.open(fast_catalog) as shop:
        live = shop.index.live()
        saved = counted_saves(live, monkeypatch)
        saves = IndexSaves(shop.write_lock, small_write_s=3600, bulk_s=3600)
        with shop.write_lock.hold():
            saves.small_write(live)  # the first one saves: nothing was saved yet
            saves.small_write(live)
            saves.small_write(live)
        assert len(saved) == 1 and saves.dirty
        saves.close(live)  # what is unsaved is saved on close, the lock being free
        assert len(saved) == 2 and not saves.dirty
        saves.close(live)
        assert len(saved) == 2


def test_a_long_ingest_saves_at_its_end_and_a_rebuild_at_once(fast_catalog, monkeypatch):
    with Catalog.open(fast_catalog) as shop:
        live = shop.index.live()
        saved = counted_saves(live, monkeypatch)
        saves = IndexSaves(shop.write_lock, small_write_s=3600, bulk_s=3600)
        with shop.write_lock.hold():
            saves.begin_bulk()
            saves.bulk_write(live, last=False)
            assert saved == []
            saves.bulk_write(live, last=True)
            saves.now(live, {"index_kind": live.kind})
        assert saved == [None, {"index_kind": live.kind}]


def test_the_catalogue_saves_an_upload_through_its_one_policy(fast_catalog, fast_queries, monkeypatch):
    with Catalog.open(fast_catalog) as shop:
        live = shop.index.live()
        saved = counted_saves(live, monkeypatch)
        shop.add_image("red-blue", fast_queries["red-blue"])
        shop.add_image("green-yellow", fast_queries["green-yellow"])
        assert len(saved) == 1  # the second small write within the interval waits for close
    assert len(saved) == 2
