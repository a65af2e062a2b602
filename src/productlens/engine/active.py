"""The active model version's embedder and vector index for one open catalogue.

One active model per catalogue, seen by every process: the store's meta names it, and before
each use `follow` compares what is loaded here with it. When another process ran `models use`,
embedder and index are dropped together and loaded again for the new version; when it rebuilt
the index as another kind or reduction, the index alone. A query embedded just before a switch
carries its model's key, and the search refuses it (ModelChangedError) rather than compare
vectors of two models.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from .. import meta_keys
from ..catalog.store import CatalogStore, ModelRecord
from ..errors import CatalogError, ModelChangedError
from ..images import ImageSource, load_image
from ..index.live import LiveIndex
from ..index.reduction import recorded
from ..models import Embedder
from . import models
from .lifecycle import DEFAULT_INDEX, WriteLock, save_if_free


class ActiveModel:
    """Loads the active model's embedder and index once, and again after another process switched them."""

    def __init__(self, path: Path, store: CatalogStore, write_lock: WriteLock) -> None:
        self.path, self.store, self.write_lock = path, store, write_lock
        self.lock = threading.RLock()
        self.loaded_embedder: Embedder | None = None
        self.loaded_index: LiveIndex | None = None
        self.switch_listeners: list[Callable[[], None]] = []

    def on_switch(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever the model changes (here or in another process): for caches
        derived from the model's vectors."""
        self.switch_listeners.append(listener)

    def record(self) -> ModelRecord | None:
        """The active version's record (None while nothing was ever embedded)."""
        return models.active_record(self.store)

    def follow(self) -> bool:
        """Drop what no longer matches the store; True when the model itself changed."""
        active = self.store.get_meta(meta_keys.ACTIVE_MODEL)
        with self.lock:
            held = {obj.key if isinstance(obj, Embedder) else obj.model_key
                    for obj in (self.loaded_embedder, self.loaded_index) if obj is not None}
            if active is not None and held - {active}:
                self.loaded_embedder, self.loaded_index = None, None
                changed = True
            else:
                changed = False
                if self.loaded_index is not None and active is not None:
                    kind = self.store.get_meta(meta_keys.INDEX_KIND, DEFAULT_INDEX)
                    reducer = (recorded(self.store, active) or {}).get("file")
                    if (self.loaded_index.kind, self.loaded_index.reducer_file) != (kind, reducer):
                        self.loaded_index = None
        if changed:
            self.notify()
        return changed

    def notify(self) -> None:
        for listener in self.switch_listeners:
            listener()

    def embedder(self, quantization_images: Sequence[ImageSource] | None = None, *,
                 register: bool = False) -> Embedder:
        """The active model's embedder, or the catalogue's network while it has none (INT8 is
        quantised on `quantization_images` then). Only a writer (`register`) records that network
        as the catalogue's first model: a read never writes the model row."""
        self.follow()
        with self.lock:
            if self.loaded_embedder is None:
                images = [load_image(s).image for s in quantization_images] if quantization_images is not None else None
                name = str(self.store.get_meta(meta_keys.MODEL_NAME))
                precision = str(self.store.get_meta(meta_keys.MODEL_PRECISION, "fp32"))
                self.loaded_embedder = models.load_embedder(self.path, name, precision, record=self.record(),
                                                            quantization_images=images)
            if register:
                models.register_first_model(self.store, self.loaded_embedder)
            return self.loaded_embedder

    def index(self) -> LiveIndex | None:
        """The active model's index (None while the catalogue has no model). One found stale or
        damaged on open is saved once rebuilt, under the write lock if it is free at once (a
        writer that holds it saves the file itself), so the rebuild is not repeated by every
        command that opens the catalogue."""
        self.follow()
        with self.lock:
            if self.loaded_index is None:
                model = self.record()
                if model is None:
                    return None
                kind = str(self.store.get_meta(meta_keys.INDEX_KIND, DEFAULT_INDEX))
                self.loaded_index = LiveIndex(self.store, self.path / "index", model.key, model.dim, kind)
                if self.loaded_index.repaired and not self.store.read_only:
                    save_if_free(self.write_lock, self.loaded_index)
            return self.loaded_index

    def pair(self) -> tuple[Embedder, LiveIndex]:
        """The active model's embedder and index, as one pair (another process may switch the
        model between loading one and the other: then both are loaded again)."""
        try:
            return self.check_pair(self.embedder(), self.index())
        except ModelChangedError:
            return self.check_pair(self.embedder(), self.index())

    @staticmethod
    def check_pair(embedder: Embedder, index: LiveIndex | None) -> tuple[Embedder, LiveIndex]:
        """Check that an embedder and index loaded one after the other belong together."""
        if index is None:
            raise CatalogError("the catalogue has no model yet")
        if index.model_key != embedder.key:
            raise ModelChangedError(f"the active model changed to {index.model_key} while it was being loaded")
        return embedder, index

    def install(self, embedder: Embedder | None, index: LiveIndex | None) -> None:
        """Use these (just activated, or None to load again from the store on next use)."""
        with self.lock:
            self.loaded_embedder, self.loaded_index = embedder, index
        self.notify()

    def drop_index(self) -> None:
        """Open the index again on next use, as the store has it (after a rebuild that failed)."""
        with self.lock:
            self.loaded_index = None
