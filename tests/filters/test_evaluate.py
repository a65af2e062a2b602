"""Evaluating filters: comparisons, coercion, booleans, precedence, like/contains, nulls."""

from __future__ import annotations

from typing import Any

import pytest

from productlens.filters import parse_filter

from filters.samples import CSV_MILK, NO_ATTRS, OAT, PRODUCTS


def ids(where: str) -> list[str]:
    f = parse_filter(where)
    return [p["id"] for p in PRODUCTS if f.matches(p)]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("category = 'Milk'", ["SKU1", "SKU2"]),
        ("category == 'Milk'", ["SKU1", "SKU2"]),
        ("category = 'milk'", []),  # = is case-sensitive
        ("category != 'Milk'", ["SKU3", "SKU4"]),
        ("category <> 'Milk'", ["SKU3", "SKU4"]),
        ("price < 3", ["SKU1", "SKU2"]),
        ("price <= 2.5", ["SKU1", "SKU2"]),
        ("price > 2.5", ["SKU3"]),
        ("price >= 7", ["SKU3"]),
        ("price > -1.5", ["SKU1", "SKU2", "SKU3"]),
        ("price = 7.0", ["SKU3"]),
        ("id > 'SKU2'", ["SKU3", "SKU4"]),
    ],
)
def test_comparison_operators(where: str, expected: list[str]) -> None:
    assert ids(where) == expected


def test_numeric_strings_compare_numerically_against_numbers() -> None:
    assert parse_filter("price < 3").matches(CSV_MILK)  # "2.50" < 3
    assert parse_filter("price = 2.5").matches(CSV_MILK)
    assert parse_filter("size > 9").matches(CSV_MILK)  # numerically, not "10" < "9"
    assert parse_filter("price = '2.5'").matches(OAT)  # number vs numeric string literal
    assert not parse_filter("price = '2.5'").matches(CSV_MILK)  # both strings: string equality
    assert not parse_filter("brand < 3").matches(OAT)  # not a number: ordering false
    assert parse_filter("brand != 3").matches(OAT)  # ...and unequal


def test_booleans_match_real_and_string_booleans() -> None:
    assert ids("organic = true") == ["SKU1"]
    assert ids("organic = FALSE") == ["SKU2", "SKU3"]
    assert ids("organic != true") == ["SKU2", "SKU3"]
    assert not parse_filter("brand = true").matches(OAT)


def test_precedence_and_binds_tighter_than_or() -> None:
    # a or (b and c): OAT matches through `a` alone.
    where = "brand = 'Oatly' or category = 'Cheese' and price < 1"
    assert ids(where) == ["SKU1"]
    assert ids("(brand = 'Oatly' or category = 'Cheese') and price < 1") == []
    assert ids("(brand = 'Oatly' or category = 'Cheese') and price > 1") == ["SKU1", "SKU3"]


def test_not_and_keywords_are_case_insensitive() -> None:
    assert ids("NOT category = 'Milk'") == ["SKU3", "SKU4"]
    assert ids("not not category = 'Milk'") == ["SKU1", "SKU2"]
    assert ids("Category = 'Milk' AND Not (price > 2.6 Or organic = True)") == []
    assert ids("category = 'Milk' AND NOT (price > 2.6 OR organic = true)") == ["SKU2"]


def test_in_and_not_in() -> None:
    assert ids("category in ('Milk', 'Cheese')") == ["SKU1", "SKU2", "SKU3"]
    assert ids("price in (7, 2.5)") == ["SKU1", "SKU2", "SKU3"]
    assert ids("category not in ('Milk')") == ["SKU3", "SKU4"]
    assert ids("brand not in ('Oatly', 'Arla')") == ["SKU3"]  # missing brand: false


def test_like_and_contains_ignore_case() -> None:
    assert ids("title like 'oat%'") == ["SKU1"]
    assert ids("title like '%MILK'") == ["SKU1", "SKU2"]
    assert ids("id like 'SKU_'") == ["SKU1", "SKU2", "SKU3", "SKU4"]
    assert ids("id like 'SKU'") == []  # like matches the whole value
    assert ids("description contains 'OAT DRINK'") == ["SKU1"]
    assert ids("title contains 'brûlée'") == ["SKU3"]
    assert parse_filter("title like '100\\%'").matches({"title": "100%"})
    assert not parse_filter("title like '100\\%'").matches({"title": "1000"})
    assert parse_filter("price contains '2.5'").matches(OAT)  # numbers searched as text


def test_missing_fields_are_null() -> None:
    assert ids("brand is null") == ["SKU4"]
    assert ids("brand IS NOT NULL") == ["SKU1", "SKU2", "SKU3"]
    assert ids("description is null") == ["SKU3", "SKU4"]
    never = ("brand = 'x'", "brand != 'x'", "brand like '%'", "brand contains ''", "price < 1")
    for where in never:
        assert not parse_filter(where).matches(NO_ATTRS), where
    assert parse_filter("brand is null").matches({"attributes": {"brand": None}})


def test_attributes_prefix_and_top_level_names() -> None:
    assert ids("attributes.brand = 'Oatly'") == ["SKU1"]
    assert ids("attributes.coarse_category = 'Milk'") == ["SKU1"]
    # `category` is the top-level key, `attributes.category` the attribute.
    assert ids("attributes.category is null") == ["SKU1", "SKU2", "SKU3", "SKU4"]


def test_quotes_escapes_and_unicode() -> None:
    assert ids("brand = 'O''Neil \"Dairy\"'") == ["SKU3"]
    assert ids("brand = 'O\\'Neil \"Dairy\"'") == ["SKU3"]
    assert ids('brand = "O\'Neil \\"Dairy\\""') == ["SKU3"]
    assert ids('brand = "O\'Neil ""Dairy"""') == ["SKU3"]
    assert ids("title = 'Crème Brûlée Käse'") == ["SKU3"]
    assert parse_filter("größe = 'L'").matches({"attributes": {"größe": "L"}})
    assert parse_filter("path = 'a\\\\b'").matches({"attributes": {"path": "a\\b"}})


TAGGED_LIST: dict[str, Any] = {"id": "T1", "attributes": {"tags": ["Yellow", "ripe", 3], "meta": {"a": "yellow"}}}
TAGGED_CSV: dict[str, Any] = {"id": "T2", "attributes": {"tags": "green,Yellow Zest"}}  # a CSV cell
UNTAGGED: dict[str, Any] = {"id": "T3", "attributes": {"tags": []}}


def tagged(where: str) -> list[str]:
    f = parse_filter(where)
    return [p["id"] for p in (TAGGED_LIST, TAGGED_CSV, UNTAGGED) if f.matches(p)]


def test_contains_and_like_search_every_item_of_a_list() -> None:
    # Lists from JSONL used to be skipped: `tags contains 'yellow'` silently matched nothing.
    assert tagged("tags contains 'yellow'") == ["T1", "T2"]  # a list item, or a comma-separated string
    assert tagged("tags contains 'RIP'") == ["T1"]
    assert tagged("tags contains '3'") == ["T1"]  # numbers in lists are searched as text
    assert tagged("tags like 'yellow'") == ["T1"]  # like matches a whole item...
    assert tagged("tags like '%yellow%'") == ["T1", "T2"]  # ...or, with %, part of the CSV string
    assert tagged("not tags contains 'yellow'") == ["T3"]
    assert tagged("tags is not null") == ["T1", "T2", "T3"]
    assert tagged("meta contains 'yellow'") == []  # objects are not searched
    assert tagged("tags = 'Yellow'") == []  # = compares the whole value: use contains for lists


def test_an_int_too_long_to_print_is_skipped_not_raised() -> None:
    assert not parse_filter("n contains '1'").matches({"attributes": {"n": 10**5000}})
