"""Shopper interactions in the catalogue: reading an events file (CSV or JSONL) row by row, the
rules a row must pass, and the `interactions` table's writes and reads.

A file is streamed (bounded memory) and written in one transaction: a bad row is reported and
skipped, a failure or a kill leaves the table as before, and the natural key (user, product,
event, timestamp, basket) makes re-adding the same file add nothing.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import InteractionError
from .store import CatalogStore

DEFAULT_WEIGHTS = {"view": 1.0, "cart": 3.0, "purchase": 5.0}
DEFAULT_EVENT = "view"
FUTURE_SLACK_S = 24 * 3600  # clocks differ: a day ahead is still "now"
CHUNK = 5000


@dataclass(frozen=True)
class Interaction:
    """One valid event, ready to be written."""

    user_id: str
    product_id: str
    event: str
    weight: float
    timestamp: float
    basket_id: str = ""
    row: int = 0  # where it came from, for the report


@dataclass
class InteractionReport:
    """What adding an events file did."""

    read: int = 0
    added: int = 0
    already_there: int = 0
    products_created: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (row number, why)

    def to_dict(self) -> dict[str, Any]:
        return {"read": self.read, "added": self.added, "already_there": self.already_there,
                "products_created": self.products_created, "skipped": len(self.skipped),
                "problems": [f"row {n}: {why}" for n, why in self.skipped[:20]]}


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The rows of a .csv (header line) or .jsonl file, one dict at a time."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise InteractionError(f"{path}: interactions come as .csv or .jsonl, not {suffix or 'no extension'}")
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            if suffix == ".csv":
                reader = csv.DictReader(fh)
                if not reader.fieldnames or not {"user_id", "product_id"} <= set(reader.fieldnames):
                    raise InteractionError(f"{path}: the header must name user_id and product_id columns")
                yield from reader
                return
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    row = {"_error": f"line {number} is not JSON"}
                yield row if isinstance(row, dict) else {"_error": f"line {number} is not a JSON object"}
    except (OSError, UnicodeDecodeError) as exc:
        raise InteractionError(f"{path}: cannot read ({exc})") from exc


def parse_row(row: Mapping[str, Any], number: int, weights: Mapping[str, float], now: float) -> Interaction | str:
    """A valid Interaction, or the reason the row is skipped. Without a timestamp, the row number
    orders the events (the same file then gives the same events again)."""
    if "_error" in row:
        return str(row["_error"])
    user, product = str(row.get("user_id") or "").strip(), str(row.get("product_id") or "").strip()
    if not user or not product:
        return "user_id and product_id are required"
    event = str(row.get("event") or DEFAULT_EVENT).strip()
    raw_weight = row.get("weight")
    if raw_weight in (None, ""):
        weight = float(weights.get(event, 1.0))
    else:
        try:
            weight = float(raw_weight)
        except (TypeError, ValueError):
            return f"weight {raw_weight!r} is not a number"
        if not math.isfinite(weight) or weight < 0:
            return f"weight {raw_weight!r} is negative or not finite"
    stamp = parse_timestamp(row.get("timestamp"))
    if isinstance(stamp, str):
        return stamp
    if stamp is None:
        stamp = float(number)
    elif stamp > now + FUTURE_SLACK_S:
        return f"timestamp {row.get('timestamp')!r} is in the future"
    basket = row.get("basket_id")
    return Interaction(user, product, event, weight, stamp, "" if basket in (None, "") else str(basket), number)


def parse_timestamp(value: Any) -> float | None | str:
    """Seconds since the epoch from a number or an ISO date; None when absent; a message when bad."""
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        pass
    try:
        when = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return f"timestamp {value!r} is neither a number nor an ISO date"
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def add_interactions(store: CatalogStore, rows: Iterable[Mapping[str, Any]], *, weights: Mapping[str, float] | None = None,
                     known_only: bool = False, progress: Callable[[int], None] | None = None) -> InteractionReport:
    """Validate and write `rows` in one transaction; unknown products are created with the id
    alone unless `known_only` (then such rows are skipped). `progress(n)`: n more rows were read."""
    weights = {**DEFAULT_WEIGHTS, **(weights or {})}
    report, now = InteractionReport(), time.time()
    with store.transaction() as db:
        before = db.execute("SELECT COUNT(*) FROM interactions").fetchone()[0]
        chunk: list[Interaction] = []
        for number, row in enumerate(rows, 1):
            report.read += 1
            parsed = parse_row(row, number, weights, now)
            if isinstance(parsed, str):
                report.skipped.append((number, parsed))
            else:
                chunk.append(parsed)
            if len(chunk) >= CHUNK:
                _write_chunk(db, chunk, known_only, report)
                chunk = []
            if progress and number % CHUNK == 0:
                progress(CHUNK)
        _write_chunk(db, chunk, known_only, report)
        report.added = db.execute("SELECT COUNT(*) FROM interactions").fetchone()[0] - before
    report.already_there = report.read - len(report.skipped) - report.added
    return report


def _write_chunk(db, chunk: list[Interaction], known_only: bool, report: InteractionReport) -> None:
    ids = sorted({i.product_id for i in chunk})
    known: set[str] = set()
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        known.update(r[0] for r in db.execute(
            f"SELECT id FROM products WHERE id IN ({','.join('?' * len(part))})", part))
    missing = [pid for pid in ids if pid not in known]
    if known_only:
        kept = [i for i in chunk if i.product_id in known]
        report.skipped.extend((i.row, f"product {i.product_id!r} is not in the catalogue")
                              for i in chunk if i.product_id not in known)
        chunk = kept
    elif missing:
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        db.executemany("INSERT INTO products (id, title, attributes, created_at, updated_at) VALUES (?, ?, '{}', ?, ?)",
                       [(pid, pid, stamp, stamp) for pid in missing])
        report.products_created += len(missing)
    db.executemany("INSERT OR IGNORE INTO interactions (user_id, product_id, event, weight, timestamp, basket_id)"
                   " VALUES (?, ?, ?, ?, ?, ?)",
                   [(i.user_id, i.product_id, i.event, i.weight, i.timestamp, i.basket_id) for i in chunk])


def remove_user(store: CatalogStore, user_id: str) -> int:
    """Forget every interaction of one shopper; returns how many were removed."""
    with store.transaction() as db:
        return db.execute("DELETE FROM interactions WHERE user_id = ?", (user_id,)).rowcount


def interaction_rows(store: CatalogStore) -> list[tuple[str, str, float, float, str]]:
    """(user, product, weight, timestamp, basket) of every interaction, by user then time."""
    return store.rows("SELECT user_id, product_id, weight, timestamp, basket_id FROM interactions "
                      "ORDER BY user_id, timestamp, id")


def user_history(store: CatalogStore, user_id: str) -> list[str]:
    """One shopper's products, oldest first."""
    return [r[0] for r in store.rows("SELECT product_id FROM interactions WHERE user_id = ? ORDER BY timestamp, id",
                                     (user_id,))]


def interaction_summary(store: CatalogStore) -> dict[str, Any]:
    """Counts, date range, users, items and sparsity of the interactions."""
    events, users, items, first, last = store.rows(
        "SELECT COUNT(*), COUNT(DISTINCT user_id), COUNT(DISTINCT product_id), MIN(timestamp), MAX(timestamp)"
        " FROM interactions")[0]
    by_event = dict(store.rows("SELECT event, COUNT(*) FROM interactions GROUP BY event ORDER BY event"))
    pairs = store.rows("SELECT COUNT(*) FROM (SELECT DISTINCT user_id, product_id FROM interactions)")[0][0]

    def date(t: float | None) -> str | None:
        return None if t is None else datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="seconds")

    return {"interactions": events, "events": by_event, "users": users, "items": items,
            "first": date(first), "last": date(last),
            "sparsity": round(1 - pairs / (users * items), 6) if users and items else None}
