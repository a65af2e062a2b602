"""Gathering a distributed embedding run: the Parquet shards of `productlens embed` (jobs/) added
to a catalogue without embedding again.

Shards of another model than the catalogue's active one are refused before anything is written
(vectors of two models are not comparable). Each batch of rows is written in its own
transaction under the write lock; an image a product already has is counted, not added twice,
so importing the same folder again (or after a crash) adds only what is missing.
"""

from __future__ import annotations

from pathlib import Path

from ..catalog.store import CatalogStore
from ..index.live import LiveIndex
from ..jobs import iter_shard_rows, read_skipped
from ..jobs.shards import shard_files
from .ingest import add_embedded


def import_shards(store: CatalogStore, live: LiveIndex, model_key: str, out: Path) -> dict[str, int]:
    """Add every finished shard in OUT; counts of images added, already present, shards read and
    inputs the partitions skipped (their reasons are in OUT/*.skipped.jsonl)."""
    added = duplicates = 0
    for rows in iter_shard_rows(out, model_key):
        fresh, repeated = add_embedded(store, live, model_key, rows.product_ids, rows.sha256s, rows.sources,
                                       rows.vectors)
        added, duplicates = added + fresh, duplicates + repeated
    live.save()
    return {"added": added, "duplicates": duplicates, "shards": len(shard_files(out)),
            "skipped_inputs": sum(1 for _ in read_skipped(out))}
