"""SQLite store: the catalogue's source of truth (products, images, models, embeddings).

Every write runs in one `BEGIN IMMEDIATE` transaction and bumps `meta.generation`, so a crash
leaves the database as it was before that write, and index files can tell whether they are stale.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from .. import meta_keys
from ..errors import ProductNotFoundError
from .database import connect, storage_errors
from .migrations import apply_migrations, require_no_migrations
from .records import CalibrationRecord, ImageRecord, ModelRecord, NewImage, Product

CORE_FIELDS = ("id", "title", "category", "description")
__all__ = ["CORE_FIELDS", "CalibrationRecord", "CatalogStore", "ImageRecord", "ModelRecord", "NewImage", "Product"]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class CatalogStore:
    """Thread-safe access to one catalogue database (one connection, serialised by a lock)."""

    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.path = Path(path)
        self._db, self.read_only = connect(self.path, create=create)
        self._lock = threading.RLock()
        with storage_errors(self.path, "upgrade"):
            if self.read_only:
                require_no_migrations(self._db, self.path)
            else:
                apply_migrations(self._db)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "CatalogStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transactions and meta -------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write; bumps the generation so derived indexes know they are stale.

        A failure (read-only file, full disk) rolls the write back and raises StorageError.
        """
        with self._lock, storage_errors(self.path, "write"):
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
                self._db.execute(
                    "INSERT INTO meta (key, value) VALUES ('generation', '1') ON CONFLICT(key) "
                    "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
                )
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # also after a failed COMMIT (a full disk), which leaves it open
                    self._db.execute("ROLLBACK")
                raise

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock, storage_errors(self.path, "read"):
            return self._db.execute(sql, params).fetchall()

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else default

    def set_meta(self, values: dict[str, str]) -> None:
        self.update_meta(values, ())

    def delete_meta(self, keys: Sequence[str]) -> None:
        """Remove meta keys (absent ones are ignored)."""
        self.update_meta({}, keys)

    def update_meta(self, values: dict[str, str], delete: Sequence[str]) -> None:
        """Set some meta keys and remove others in one write (a switch that must not be seen half-done)."""
        with self.transaction() as db:
            self._set_meta(db, values)
            db.executemany("DELETE FROM meta WHERE key = ?", [(k,) for k in delete])

    @staticmethod
    def _set_meta(db: sqlite3.Connection, values: dict[str, str]) -> None:
        db.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [(k, str(v)) for k, v in values.items()],
        )

    @property
    def generation(self) -> int:
        return int(self.get_meta(meta_keys.GENERATION, "0") or 0)

    # --- calibrations -------------------------------------------------------------------------

    def put_calibration(self, model_key: str, name: str, value: dict[str, Any], fitted_on: str) -> CalibrationRecord:
        """Store (or replace) a value fitted on `model_key`'s vectors, stamped with this generation."""
        record = CalibrationRecord(model_key, name, value, fitted_on, self.generation, _now())
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO calibrations VALUES (?, ?, ?, ?, ?, ?)",
                       (model_key, name, json.dumps(value), fitted_on, record.generation, record.fitted_at))
        return record

    def get_calibration(self, model_key: str, name: str) -> CalibrationRecord | None:
        rows = self._query("SELECT * FROM calibrations WHERE model_key = ? AND name = ?", (model_key, name))
        return _calibration(rows[0]) if rows else None

    def calibrations(self, model_key: str | None = None) -> list[CalibrationRecord]:
        """Every stored calibration, or those of one model version, by version then name."""
        if model_key is None:
            rows = self._query("SELECT * FROM calibrations ORDER BY model_key, name")
        else:
            rows = self._query("SELECT * FROM calibrations WHERE model_key = ? ORDER BY name", (model_key,))
        return [_calibration(r) for r in rows]

    # --- models ------------------------------------------------------------------------------

    def add_model(self, record: ModelRecord) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO models (key, name, version, precision, dim, preprocess, info, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (record.key, record.name, record.version, record.precision, record.dim,
                 json.dumps(record.preprocess), json.dumps(record.info), record.created_at),
            )

    def get_model(self, key: str) -> ModelRecord | None:
        rows = self._query("SELECT key, name, version, precision, dim, preprocess, info, created_at FROM models WHERE key = ?", (key,))
        if not rows:
            return None
        k, name, version, precision, dim, pre, info, created = rows[0]
        return ModelRecord(k, name, version, precision, dim, json.loads(pre), json.loads(info), created)

    def list_models(self) -> list[ModelRecord]:
        keys = [r[0] for r in self._query("SELECT key FROM models ORDER BY created_at, key")]
        return [m for m in (self.get_model(k) for k in keys) if m is not None]

    # --- products ----------------------------------------------------------------------------

    def upsert_products(self, products: Iterable[Product], *, keep_existing_title: bool = False) -> tuple[int, int]:
        """Insert or update products; returns (created, updated)."""
        created = updated = 0
        with self.transaction() as db:
            for p in products:
                row = db.execute("SELECT title, category, description, attributes FROM products WHERE id = ?", (p.id,)).fetchone()
                if row is None:
                    db.execute(
                        "INSERT INTO products (id, title, category, description, attributes, created_at, updated_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (p.id, p.title, p.category, p.description, json.dumps(p.attributes), _now(), _now()),
                    )
                    created += 1
                    continue
                title = row[0] if keep_existing_title else p.title
                category = p.category if p.category is not None else row[1]
                description = p.description if p.description is not None else row[2]
                attributes = {**json.loads(row[3]), **p.attributes}
                if (title, category, description, attributes) != (row[0], row[1], row[2], json.loads(row[3])):
                    db.execute(
                        "UPDATE products SET title = ?, category = ?, description = ?, attributes = ?, updated_at = ? WHERE id = ?",
                        (title, category, description, json.dumps(attributes), _now(), p.id),
                    )
                    updated += 1
        return created, updated

    def update_product(self, product_id: str, changes: dict[str, Any]) -> Product:
        """Change core fields and/or attributes (an attribute set to None is removed)."""
        current = self.get_product(product_id)
        attributes = dict(current.attributes)
        for key, value in changes.get("attributes", {}).items():
            if value is None:
                attributes.pop(key, None)
            else:
                attributes[key] = value
        with self.transaction() as db:
            db.execute(
                "UPDATE products SET title = ?, category = ?, description = ?, attributes = ?, updated_at = ? WHERE id = ?",
                (changes.get("title", current.title), changes.get("category", current.category),
                 changes.get("description", current.description), json.dumps(attributes), _now(), product_id),
            )
        return self.get_product(product_id)

    def get_product(self, product_id: str) -> Product:
        products = self.get_products([product_id])
        if not products:
            raise ProductNotFoundError(f"no product with id {product_id!r}")
        return products[0]

    def get_products(self, product_ids: Sequence[str]) -> list[Product]:
        """Products in the order of `product_ids`; unknown ids are left out."""
        found: dict[str, Product] = {}
        for chunk in _chunks(list(dict.fromkeys(product_ids)), 500):
            marks = ",".join("?" * len(chunk))
            for p in self._product_rows(f"WHERE p.id IN ({marks})", chunk):
                found[p.id] = p
        return [found[i] for i in product_ids if i in found]

    def iter_products(self) -> list[Product]:
        return self._product_rows("ORDER BY p.id", ())

    def _product_rows(self, tail: str, params: Sequence[Any]) -> list[Product]:
        rows = self._query(
            "SELECT p.id, p.title, p.category, p.description, p.attributes,"
            " (SELECT COUNT(*) FROM images i WHERE i.product_id = p.id) FROM products p " + tail,
            params,
        )
        return [Product(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5]) for r in rows]

    def delete_products(self, product_ids: Sequence[str]) -> list[int]:
        """Delete products with their images and embeddings; returns the removed image ids."""
        removed: list[int] = []
        with self.transaction() as db:
            for pid in product_ids:
                if db.execute("SELECT 1 FROM products WHERE id = ?", (pid,)).fetchone() is None:
                    raise ProductNotFoundError(f"no product with id {pid!r}")
                removed += [r[0] for r in db.execute("SELECT id FROM images WHERE product_id = ?", (pid,))]
                db.execute("DELETE FROM products WHERE id = ?", (pid,))
        return removed

    def count_products(self) -> int:
        return self._query("SELECT COUNT(*) FROM products")[0][0]

    # --- images and embeddings ---------------------------------------------------------------

    def has_image(self, product_id: str, sha256: str) -> bool:
        return bool(self._query("SELECT 1 FROM images WHERE product_id = ? AND sha256 = ?", (product_id, sha256)))

    def products_with_hash(self, sha256: str) -> list[str]:
        return [r[0] for r in self._query("SELECT product_id FROM images WHERE sha256 = ?", (sha256,))]

    def vector_for_hash(self, sha256: str, model_key: str) -> np.ndarray | None:
        """A stored embedding of identical bytes, so a re-used photo is not run through the net again."""
        rows = self._query(
            "SELECT e.vector FROM embeddings e JOIN images i ON i.id = e.image_id"
            " WHERE i.sha256 = ? AND e.model_key = ? LIMIT 1",
            (sha256, model_key),
        )
        return np.frombuffer(rows[0][0], dtype=np.float32).copy() if rows else None

    def insert_images(self, images: Sequence[NewImage], model_key: str) -> list[int]:
        """Write image rows and their embeddings in one transaction; returns the new image ids.

        An image already present for its product (same bytes) is skipped and gets id -1.
        """
        ids: list[int] = []
        with self.transaction() as db:
            for im in images:
                cur = db.execute(
                    "INSERT OR IGNORE INTO images (product_id, sha256, source, width, height, format, status, notes,"
                    " added_at, captured_at) VALUES (?, ?, ?, ?, ?, ?, 'ok', ?, ?, ?)",
                    (im.product_id, im.sha256, im.source, im.width, im.height, im.format, im.notes, _now(),
                     im.captured_at),
                )
                if cur.rowcount == 0:
                    ids.append(-1)
                    continue
                image_id = int(cur.lastrowid)
                db.execute(
                    "INSERT INTO embeddings (image_id, model_key, vector) VALUES (?, ?, ?)",
                    (image_id, model_key, np.ascontiguousarray(im.vector, dtype=np.float32).tobytes()),
                )
                ids.append(image_id)
        return ids

    def put_embeddings(self, model_key: str, image_ids: Sequence[int], vectors: np.ndarray) -> None:
        """Store (or replace) embeddings of existing images under another model."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO embeddings (image_id, model_key, vector) VALUES (?, ?, ?)",
                [(int(i), model_key, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for i, v in zip(image_ids, vectors)],
            )

    def delete_images(self, image_ids: Sequence[int]) -> int:
        with self.transaction() as db:
            return sum(db.execute("DELETE FROM images WHERE id = ?", (int(i),)).rowcount for i in image_ids)

    def get_images(self, product_id: str | None = None, image_ids: Sequence[int] | None = None) -> list[ImageRecord]:
        cols = "id, product_id, sha256, source, width, height, format, status, notes, added_at, captured_at"
        if image_ids is not None:
            rows: list[tuple] = []
            for chunk in _chunks([int(i) for i in image_ids], 500):
                rows += self._query(f"SELECT {cols} FROM images WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        elif product_id is not None:
            rows = self._query(f"SELECT {cols} FROM images WHERE product_id = ? ORDER BY id", (product_id,))
        else:
            rows = self._query(f"SELECT {cols} FROM images ORDER BY id")
        return [ImageRecord(*r) for r in rows]

    def image_products(self, image_ids: Sequence[int]) -> dict[int, str]:
        """image id -> product id for the given ids."""
        out: dict[int, str] = {}
        for chunk in _chunks([int(i) for i in image_ids if i >= 0], 500):
            marks = ",".join("?" * len(chunk))
            out.update(self._query(f"SELECT id, product_id FROM images WHERE id IN ({marks})", chunk))
        return out

    def image_ids_of_products(self, product_ids: Sequence[str]) -> np.ndarray:
        ids: list[int] = []
        for chunk in _chunks(list(product_ids), 500):
            marks = ",".join("?" * len(chunk))
            ids += [r[0] for r in self._query(f"SELECT id FROM images WHERE product_id IN ({marks})", chunk)]
        return np.asarray(ids, dtype=np.int64)

    def first_images(self, product_ids: Sequence[str]) -> dict[str, int]:
        """product id -> its lowest image id, for products that have images."""
        out: dict[str, int] = {}
        for chunk in _chunks(list(product_ids), 500):
            marks = ",".join("?" * len(chunk))
            out.update(self._query(f"SELECT product_id, MIN(id) FROM images WHERE product_id IN ({marks}) GROUP BY product_id", chunk))
        return out

    def identical_image_pairs(self) -> list[tuple[int, int]]:
        """(a, b) with a < b for every two images with the same bytes (same SHA-256)."""
        return self._query("SELECT a.id, b.id FROM images a JOIN images b ON a.sha256 = b.sha256 AND a.id < b.id")

    def count_images(self) -> int:
        return self._query("SELECT COUNT(*) FROM images")[0][0]

    def count_embeddings(self, model_key: str) -> int:
        return self._query("SELECT COUNT(*) FROM embeddings WHERE model_key = ?", (model_key,))[0][0]

    def embedding_ids(self, model_key: str) -> np.ndarray:
        rows = self._query("SELECT image_id FROM embeddings WHERE model_key = ? ORDER BY image_id", (model_key,))
        return np.asarray([r[0] for r in rows], dtype=np.int64)

    def images_missing_embedding(self, model_key: str) -> list[ImageRecord]:
        rows = self._query(
            "SELECT id FROM images WHERE id NOT IN (SELECT image_id FROM embeddings WHERE model_key = ?) ORDER BY id",
            (model_key,),
        )
        return self.get_images(image_ids=[r[0] for r in rows])

    def iter_embeddings(
        self, model_key: str, image_ids: Sequence[int] | None = None, batch: int = 4096
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) in chunks: all of a model's embeddings, or those of `image_ids`."""
        if image_ids is not None:
            for chunk in _chunks([int(i) for i in image_ids], 500):
                marks = ",".join("?" * len(chunk))
                rows = self._query(
                    f"SELECT image_id, vector FROM embeddings WHERE model_key = ? AND image_id IN ({marks})",
                    [model_key, *chunk],
                )
                if rows:
                    yield _unpack(rows)
            return
        last = -1
        while True:
            rows = self._query(
                "SELECT image_id, vector FROM embeddings WHERE model_key = ? AND image_id > ? ORDER BY image_id LIMIT ?",
                (model_key, last, batch),
            )
            if not rows:
                return
            last = rows[-1][0]
            yield _unpack(rows)

    def embeddings(self, model_key: str, image_ids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """All of a model's (ids, vectors) at once, or those of `image_ids`; empty arrays when none."""
        chunks = list(self.iter_embeddings(model_key, image_ids))
        if not chunks:
            return np.empty(0, np.int64), np.empty((0, 0), np.float32)
        return np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])

    # --- text search tables (migration m002: FTS5 rows kept by triggers, text embeddings) --------

    def keyword_matches(self, match: str, weights: Sequence[float], limit: int) -> list[tuple[str, float]]:
        """(product id, -bm25) for an FTS5 MATCH string, best first; `weights` per FTS column."""
        columns = ", ".join(str(float(w)) for w in weights)
        rows = self._query(
            f"SELECT k.product_id, -bm25(products_fts, {columns}) AS score FROM products_fts"
            " JOIN text_keys k ON k.rid = products_fts.rowid"
            " WHERE products_fts MATCH ? ORDER BY score DESC LIMIT ?",
            (match, int(limit)),
        )
        return [(pid, float(score)) for pid, score in rows]

    def products_without_text_embedding(self, model: str, product_ids: Sequence[str] | None = None) -> list[str]:
        """Ids of products (of `product_ids`, or all) with no (current) text embedding under `model`, sorted."""
        sql = ("SELECT p.id FROM products p LEFT JOIN text_embeddings t ON t.product_id = p.id AND t.model = ?"
               " WHERE t.product_id IS NULL")
        if product_ids is None:
            return [r[0] for r in self._query(sql + " ORDER BY p.id", (model,))]
        out: list[str] = []
        for chunk in _chunks(list(dict.fromkeys(product_ids)), 500):
            out += [r[0] for r in self._query(f"{sql} AND p.id IN ({','.join('?' * len(chunk))})", (model, *chunk))]
        return sorted(out)

    def put_text_embeddings(self, model: str, product_ids: Sequence[str], vectors: np.ndarray) -> None:
        """Store products' text embeddings; a product deleted meanwhile is skipped (no orphan rows)."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO text_embeddings (product_id, model, vector)"
                " SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM products WHERE id = ?)",
                [(pid, model, np.ascontiguousarray(v, dtype=np.float32).tobytes(), pid)
                 for pid, v in zip(product_ids, vectors)],
            )

    def text_embeddings(self, model: str) -> tuple[list[str], np.ndarray | None]:
        """(product ids, one row per product) of every text embedding under `model`; None when there are none."""
        rows = self._query("SELECT product_id, vector FROM text_embeddings WHERE model = ? ORDER BY product_id", (model,))
        if not rows:
            return [], None
        return [r[0] for r in rows], np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])


def _unpack(rows: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
    ids = np.asarray([r[0] for r in rows], dtype=np.int64)
    vectors = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
    return ids, vectors


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _calibration(row: tuple) -> CalibrationRecord:
    model_key, name, value, fitted_on, generation, fitted_at = row
    return CalibrationRecord(model_key, name, json.loads(value), fitted_on, int(generation), fitted_at)
