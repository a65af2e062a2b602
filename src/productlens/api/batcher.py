"""Optional micro-batching: concurrent queries share one ONNX Runtime call.

Request threads decode and preprocess their own image, then hand the array to one worker that
runs whatever has queued up as a single batch. Nothing waits on purpose: at concurrency 1 a query
runs alone at once; under load, queries that arrive while a batch runs form the next one.
On a 2-core CPU, EfficientNet-Lite0 costs the same per image at batch 1 and 16, so batching
bought no throughput there (benchmarks/bench_serve.py: 10-33% fewer searches/s than letting
request threads call the model concurrently, and a worse p95); it stays as an option
(`serve --max-batch N`) for machines where batches are cheaper per image.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from typing import Callable

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)


class EmbedBatcher:
    """Embeds single images through a shared worker; `embed` is safe to call from many threads.

    max_batch=0 turns batching off: each request thread runs the model itself (the baseline).
    """

    def __init__(self, embedder, *, max_batch: int = 16, on_batch: Callable[[int], None] | None = None) -> None:
        self.embedder = embedder
        self.max_batch = max_batch
        self._on_batch = on_batch
        self._queue: queue.Queue[tuple[np.ndarray, Future] | None] = queue.Queue()
        self._worker = threading.Thread(target=self._run, name="productlens-embed", daemon=True)
        if max_batch > 0:
            self._worker.start()

    def embed(self, image: Image.Image) -> np.ndarray:
        """One RGB image -> its unit embedding row."""
        if self.max_batch <= 0:
            return self.embedder.embed([image])[0]
        future: Future = Future()
        self._queue.put((self.embedder.prepare(image), future))
        return future.result()

    def close(self) -> None:
        if not self._worker.is_alive():
            return
        self._queue.put(None)
        self._worker.join(timeout=10)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs = [first]
            while len(jobs) < self.max_batch:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self._queue.put(None)
                    break
                jobs.append(job)
            try:
                vectors = self.embedder.embed_arrays(np.stack([array for array, _ in jobs]))
            except BaseException as exc:  # hand the failure to every waiting request
                for _, future in jobs:
                    future.set_exception(exc)
                continue
            if self._on_batch:
                self._on_batch(len(jobs))
            for (_, future), vector in zip(jobs, vectors):
                future.set_result(vector)
