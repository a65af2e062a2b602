"""Schema changes as named migrations, applied in order when a catalogue is opened (like llm's)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from typing import Callable

from ..errors import StorageError

MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = []


def migration(fn: Callable[[sqlite3.Connection], None]) -> Callable[[sqlite3.Connection], None]:
    MIGRATIONS.append((fn.__name__, fn))
    return fn


@migration
def m001_create_tables(db: sqlite3.Connection) -> None:
    _run_script(
        db,
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE products (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            category TEXT,
            description TEXT,
            attributes TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE images (
            id INTEGER PRIMARY KEY,
            product_id TEXT NOT NULL REFERENCES products(id) ON DELETE CASCADE,
            sha256 TEXT NOT NULL,
            source TEXT,
            width INTEGER,
            height INTEGER,
            format TEXT,
            status TEXT NOT NULL DEFAULT 'ok',
            notes TEXT,
            added_at TEXT NOT NULL,
            UNIQUE (product_id, sha256)
        );
        CREATE INDEX images_sha256 ON images (sha256);
        CREATE TABLE models (
            key TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            precision TEXT NOT NULL,
            dim INTEGER NOT NULL,
            preprocess TEXT NOT NULL,
            info TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL
        );
        CREATE TABLE embeddings (
            image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            model_key TEXT NOT NULL REFERENCES models(key),
            vector BLOB NOT NULL,
            PRIMARY KEY (image_id, model_key)
        );
        """
    )


@migration
def m002_text_search(db: sqlite3.Connection) -> None:
    """FTS5 keyword index of products kept in step by triggers, and per-product text embeddings.

    `text_keys` gives each product a stable integer (an INTEGER PRIMARY KEY survives VACUUM,
    products' implicit rowid does not) used as the FTS rowid, so every trigger is an indexed
    lookup. Editing a product's text drops its text embedding, which is then recomputed lazily.
    """
    cols = "title, description, category, attributes"
    new = "new.title, new.description, new.category, new.attributes"
    _run_statements(
        db,
        f"""
        CREATE TABLE text_keys (rid INTEGER PRIMARY KEY, product_id TEXT UNIQUE NOT NULL);
        CREATE VIRTUAL TABLE products_fts USING fts5(
            {cols}, tokenize="unicode61 remove_diacritics 2", prefix='2 3'
        );
        CREATE TRIGGER products_fts_ai AFTER INSERT ON products BEGIN
            INSERT INTO text_keys (product_id) VALUES (new.id);
            INSERT INTO products_fts (rowid, {cols})
                VALUES ((SELECT rid FROM text_keys WHERE product_id = new.id), {new});
        END;
        CREATE TRIGGER products_fts_au AFTER UPDATE OF id, {cols} ON products BEGIN
            DELETE FROM products_fts WHERE rowid = (SELECT rid FROM text_keys WHERE product_id = old.id);
            UPDATE text_keys SET product_id = new.id WHERE product_id = old.id;
            INSERT INTO products_fts (rowid, {cols})
                VALUES ((SELECT rid FROM text_keys WHERE product_id = new.id), {new});
            DELETE FROM text_embeddings WHERE product_id = old.id;
        END;
        CREATE TRIGGER products_fts_ad AFTER DELETE ON products BEGIN
            DELETE FROM products_fts WHERE rowid = (SELECT rid FROM text_keys WHERE product_id = old.id);
            DELETE FROM text_keys WHERE product_id = old.id;
        END;
        CREATE TABLE text_embeddings (
            product_id TEXT PRIMARY KEY REFERENCES products(id) ON DELETE CASCADE,
            model TEXT NOT NULL,
            vector BLOB NOT NULL
        );
        INSERT INTO text_keys (product_id) SELECT id FROM products ORDER BY id;
        INSERT INTO products_fts (rowid, {cols})
            SELECT k.rid, p.title, p.description, p.category, p.attributes
            FROM products p JOIN text_keys k ON k.product_id = p.id
        """,
    )


def _run_statements(db: sqlite3.Connection, script: str) -> None:
    """Like _run_script, but keeps trigger bodies (BEGIN ...; ... END) whole."""
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                db.execute(pending)
            pending = ""


@migration
def m003_calibrations_and_capture_times(db: sqlite3.Connection) -> None:
    """Values fitted on one model version's vectors (thresholds, blend weights), kept per version;
    and when each photo was taken (EXIF), which tells burst shots apart for validation.

    The old catalogue-wide recognition threshold was a cosine of whichever model was active when
    it was fitted; it is dropped, and the next write that needs it fits one for the active version.
    """
    _run_script(
        db,
        """
        CREATE TABLE calibrations (
            model_key TEXT NOT NULL,
            name TEXT NOT NULL,
            value TEXT NOT NULL,
            fitted_on TEXT NOT NULL,
            generation INTEGER NOT NULL,
            fitted_at TEXT NOT NULL,
            PRIMARY KEY (model_key, name)
        );
        ALTER TABLE images ADD COLUMN captured_at REAL;
        DELETE FROM meta WHERE key = 'recognition_calibration'
        """,
    )


@migration
def m004_interactions(db: sqlite3.Connection) -> None:
    """What shoppers did (view, cart, purchase...), for recommendations. The natural key makes
    re-adding the same file add nothing; a removed product takes its interactions with it."""
    _run_script(
        db,
        """
        CREATE TABLE interactions (
            id INTEGER PRIMARY KEY,
            user_id TEXT NOT NULL,
            product_id TEXT NOT NULL REFERENCES products(id) ON DELETE CASCADE,
            event TEXT NOT NULL,
            weight REAL NOT NULL,
            timestamp REAL NOT NULL,
            basket_id TEXT NOT NULL DEFAULT '',
            UNIQUE (user_id, product_id, event, timestamp, basket_id)
        );
        CREATE INDEX interactions_user ON interactions (user_id, timestamp);
        CREATE INDEX interactions_product ON interactions (product_id)
        """,
    )


def _run_script(db: sqlite3.Connection, script: str) -> None:
    # Statement by statement: executescript() would COMMIT the migration's transaction early.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def require_no_migrations(db: sqlite3.Connection, path: object) -> None:
    """For a read-only open: StorageError when the file needs migrations it cannot be given."""
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")} if "_migrations" in tables else set()
    pending = [name for name, _ in MIGRATIONS if name not in done]
    if pending:
        raise StorageError(f"cannot upgrade {path}: it is read-only and needs {', '.join(pending)}; "
                           "open it once with write access")


def apply_migrations(db: sqlite3.Connection) -> list[str]:
    """Apply pending migrations, each in its own transaction; returns the names applied.

    `db` must be in autocommit mode (isolation_level=None): transactions here are explicit.
    """
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    applied = []
    for name, fn in MIGRATIONS:
        if name in done:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            fn(db)
            db.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                (name, datetime.now(timezone.utc).isoformat()),
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        applied.append(name)
    return applied
