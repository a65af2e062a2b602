"""Vectors embedded outside the catalogue, written into it without embedding again: the Parquet
shards of a distributed `embed` run (jobs/), and the rows `import_job` reads from older job folders.

Shards of another model than the catalogue's active one are refused before anything is written
(vectors of two models are not comparable). Each batch of rows is written in its own
transaction under the write lock; an image a product already has is counted, not added twice,
so importing the same folder again (or after a crash) adds only what is missing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..catalog.ingest import title_from_name
from ..catalog.store import CatalogStore, NewImage, Product
from ..index.live import LiveIndex
from ..jobs import iter_shard_rows, read_skipped
from ..jobs.shards import shard_files


def add_embedded(store: CatalogStore, live: LiveIndex, model_key: str, product_ids: list[str], hashes: list[str],
                 sources: list[str], vectors: np.ndarray) -> tuple[int, int]:
    """Write images embedded elsewhere with their vectors, creating missing products (title from
    the id); (added, already present). The caller holds the write lock."""
    known = {p.id for p in store.get_products(sorted(set(product_ids)))}
    new = [Product(pid, title_from_name(pid)) for pid in sorted(set(product_ids) - known)]
    if new:
        store.upsert_products(new, keep_existing_title=True)
    rows = [NewImage(pid, h, v, s) for pid, h, v, s in zip(product_ids, hashes, vectors, sources)]
    ids = np.asarray(store.insert_images(rows, model_key), np.int64)
    fresh = ids >= 0
    if fresh.any():
        live.add(ids[fresh], vectors[fresh])
    return int(fresh.sum()), int((~fresh).sum())


def import_shards(store: CatalogStore, live: LiveIndex, model_key: str, out: Path) -> dict[str, int]:
    """Add every finished shard in OUT (the caller holds the write lock); counts of images added,
    already present, shards read and inputs the partitions skipped (reasons in OUT/*.skipped.jsonl)."""
    added = duplicates = 0
    for rows in iter_shard_rows(out, model_key):
        fresh, repeated = add_embedded(store, live, model_key, rows.product_ids, rows.sha256s, rows.sources,
                                       rows.vectors)
        added, duplicates = added + fresh, duplicates + repeated
    return {"added": added, "duplicates": duplicates, "shards": len(shard_files(out)),
            "skipped_inputs": sum(1 for _ in read_skipped(out))}
