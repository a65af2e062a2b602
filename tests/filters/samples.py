"""Sample products for the filter tests: typed values, CSV strings, unicode, none, and very long values."""

from __future__ import annotations

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
