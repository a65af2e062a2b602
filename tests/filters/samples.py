"""Shared by the filter tests: sample products (typed values, CSV strings, unicode, none) and a hang guard."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

OAT: dict[str, Any] = {
    "id": "SKU1",
    "title": "Oat Milk",
    "category": "Milk",
    "description": "Creamy oat drink, 1 litre",
    "attributes": {"brand": "Oatly", "price": 2.5, "organic": True, "coarse_category": "Milk"},
}
CSV_MILK: dict[str, Any] = {  # attributes as they arrive from a CSV: all strings
    "id": "SKU2",
    "title": "Whole Milk",
    "category": "Milk",
    "description": "",
    "attributes": {"brand": "Arla", "price": "2.50", "organic": "false", "size": "10"},
}
CHEESE: dict[str, Any] = {
    "id": "SKU3",
    "title": "Crème Brûlée Käse",
    "category": "Cheese",
    "attributes": {"brand": "O'Neil \"Dairy\"", "price": 7, "organic": False},
}
NO_ATTRS: dict[str, Any] = {"id": "SKU4", "title": "Mystery", "category": "Misc"}
PRODUCTS = [OAT, CSV_MILK, CHEESE, NO_ATTRS]

LONG = 5_000
# Every field long: the texts on which a backtracking matcher or a quadratic regex never returns.
STRESS: dict[str, Any] = {
    "id": "e" * LONG,
    "title": "e" * LONG,
    "category": "ea" * (LONG // 2),
    "description": "e" * LONG,
    "attributes": {
        "brand": "e" * LONG, "price": "1" * LONG, "tags": ["e" * LONG, "1" * LONG], "size": " " * LONG + "1",
        "x": "%_" * (LONG // 2),
    },
}


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail, rather than hang, when the block runs past `seconds` (SIGALRM interrupts even `re`)."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
