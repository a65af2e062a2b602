"""Ingest pipeline: sources -> decoded, prepared arrays -> batched embeddings, in input order.

Decoding and preprocessing run on a small thread pool (Pillow releases the GIL while it decodes
and resizes) while ONNX Runtime embeds the previous batch, so the two overlap. Look-ahead is
bounded, so memory stays flat however many items come in, and a bad file becomes an
`EmbedResult` with `error` set instead of stopping the run.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from . import settings
from .errors import ImageError
from .images import ImageSource, LoadedImage, load_image
from .models import Embedder

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class EmbedResult(Generic[T]):
    """The outcome for one input item: a vector, or the ImageError that explains why not.

    `loaded` keeps sha256 / size / format / notes; its `.image` is None to keep memory flat.
    """

    item: T
    loaded: LoadedImage | None
    vector: np.ndarray | None
    error: ImageError | None

    @property
    def ok(self) -> bool:
        return self.error is None


def _identity(item: T) -> ImageSource:
    return item  # type: ignore[return-value]


def _decode(
    embedder: Embedder, item: T, source_of: Callable[[T], ImageSource]
) -> tuple[LoadedImage, np.ndarray] | ImageError:
    """Worker: load + prepare one item; ImageErrors are returned, not raised, to keep batches whole."""
    try:
        loaded = load_image(source_of(item), draft_size=embedder.draft_size)
        array = embedder.prepare(loaded.image)
    except ImageError as exc:
        return exc
    return dataclasses.replace(loaded, image=None), array  # type: ignore[arg-type]


def embed_sources(
    embedder: Embedder,
    items: Iterable[T],
    *,
    source_of: Callable[[T], ImageSource] = _identity,
    batch_size: int | None = None,
    workers: int = 2,
    progress: Callable[[int], None] | None = None,
) -> Iterator[EmbedResult[T]]:
    """Embed every item's image, yielding one EmbedResult per item in input order.

    source_of: maps an item (a catalogue row, say) to a path, bytes or PIL image.
    batch_size: images per inference call; default the `batch_size` setting.
    progress: called after each batch with how many items it finished (an increment).
    """
    size = int(batch_size or settings.get("batch_size"))
    look_ahead = 2 * size  # the batch being embedded plus the next one decoding
    pending: deque[tuple[T, Future]] = deque()
    source = iter(items)

    def fill() -> None:
        while len(pending) < look_ahead:
            try:
                item = next(source)
            except StopIteration:
                return
            pending.append((item, pool.submit(_decode, embedder, item, source_of)))

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="decode") as pool:
        try:
            fill()
            while pending:
                batch = [pending.popleft() for _ in range(min(size, len(pending)))]
                decoded = [(item, future.result()) for item, future in batch]
                fill()  # the next batch decodes while this one is embedded
                yield from _embed_batch(embedder, decoded)
                if progress is not None:
                    progress(len(decoded))
        finally:
            for _, future in pending:
                future.cancel()


def _embed_batch(
    embedder: Embedder, decoded: list[tuple[T, tuple[LoadedImage, np.ndarray] | ImageError]]
) -> list[EmbedResult[T]]:
    good = [outcome for _, outcome in decoded if not isinstance(outcome, ImageError)]
    vectors = iter(embedder.embed_arrays(np.stack([array for _, array in good])) if good else ())
    results: list[EmbedResult[T]] = []
    for item, outcome in decoded:
        if isinstance(outcome, ImageError):
            log.debug("skipping %r: %s", item, outcome)
            results.append(EmbedResult(item, None, None, outcome))
        else:
            results.append(EmbedResult(item, outcome[0], next(vectors), None))
    return results
