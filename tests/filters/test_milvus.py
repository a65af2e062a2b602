"""Filters as Milvus expressions, and push-down only when Milvus cannot miss a match."""

from __future__ import annotations

import pytest

from productlens.errors import FilterSyntaxError
from productlens.filters import field_kinds, milvus_pushdown, parse_filter

from filters.samples import CHEESE, CSV_MILK, NO_ATTRS, OAT


@pytest.mark.parametrize(
    ("where", "milvus"),
    [
        ("category = 'Milk' and price < 3", 'category == "Milk" and attributes["price"] < 3'),
        ("brand = 'Oatly'", 'attributes["brand"] == "Oatly"'),
        ("title like 'Oat%'", 'title like "Oat%"'),
        ("id in ('SKU1', 'SKU2')", 'id in ["SKU1", "SKU2"]'),
        ("price not in (1, 2.5)", 'attributes["price"] not in [1, 2.5]'),
        ("organic = true or price <> -1", 'attributes["organic"] == true or attributes["price"] != -1'),
        ("brand is null", 'not exists attributes["brand"]'),
        ("brand is not null", 'exists attributes["brand"]'),
        ("category is not null", "category is not null"),
        ("title contains '50%_off'", r'title like "%50\\%\\_off%"'),
        (
            "brand = 'Oatly' or category = 'Milk' and not price > 2",
            'attributes["brand"] == "Oatly" or (category == "Milk" and not (attributes["price"] > 2))',
        ),
        (
            "(brand = 'Oatly' or category = 'Milk') and price > 2",
            '(attributes["brand"] == "Oatly" or category == "Milk") and attributes["price"] > 2',
        ),
    ],
)
def test_to_milvus(where: str, milvus: str) -> None:
    assert parse_filter(where).to_milvus() == milvus


def test_to_milvus_escapes_quotes_and_backslashes() -> None:
    f = parse_filter("brand = 'O''Neil \"Dairy\" \\\\' or title = 'x\" or 1 == 1 or \"'")
    assert f.to_milvus() == (
        'attributes["brand"] == "O\'Neil \\"Dairy\\" \\\\" or title == "x\\" or 1 == 1 or \\""'
    )


def test_to_milvus_escapes_attribute_names_and_rejects_unknown_scalars() -> None:
    assert parse_filter("größe = 'L'").to_milvus() == 'attributes["größe"] == "L"'
    with pytest.raises(FilterSyntaxError, match="description"):
        parse_filter("description contains 'oat'").to_milvus()
    custom = parse_filter("description contains 'oat'").to_milvus(scalar_fields={"description"})
    assert custom == 'description like "%oat%"'


def test_field_kinds() -> None:
    kinds = field_kinds([OAT, CSV_MILK, CHEESE, NO_ATTRS, {"title": "x" * 1025, "category": None}])
    assert kinds["attributes.price"] == {"num", "str"} and kinds["attributes.brand"] == {"str"}
    assert kinds["attributes.organic"] == {"bool", "str"} and kinds["attributes.size"] == {"str"}
    assert kinds["title"] == {"str", "long"} and kinds["category"] == {"str", "null"}


TYPED = field_kinds([OAT, CHEESE, NO_ATTRS])  # numbers and booleans stored as such
FROM_CSV = field_kinds([OAT, CSV_MILK])  # price is a number in one product, a string in another


@pytest.mark.parametrize(
    "where, kinds, pushed",
    [
        ("category = 'Milk'", TYPED, 'category == "Milk"'),
        ("brand in ('Oatly', 'Arla') and price < 3", TYPED,
         'attributes["brand"] in ["Oatly", "Arla"] and attributes["price"] < 3'),
        ("category = 'Milk' or organic = true", TYPED, 'category == "Milk" or attributes["organic"] == true'),
        ("unknown_attribute = 'x'", TYPED, 'attributes["unknown_attribute"] == "x"'),  # matches nothing either way
        ("price < 3", FROM_CSV, None),  # "2.50" < 3 in productlens, not in Milvus
        ("brand = 'Arla' and price < 3", FROM_CSV, None),
        ("organic > true", TYPED, None),
        ("not category = 'Milk'", TYPED, None),
        ("brand is null", TYPED, None),
        ("title like 'oat%'", TYPED, None),  # case-insensitive here, case-sensitive in Milvus
        ("title contains 'oat'", TYPED, None),
        ("id = 'SKU1'", TYPED, None),  # a Milvus row's id is the image's
        ("description = 'x'", TYPED, None),
        ("category = 5", TYPED, None),
        ("price in (1, '2')", TYPED, None),
    ],
)
def test_milvus_pushdown_only_when_milvus_cannot_miss_a_match(where, kinds, pushed) -> None:
    assert milvus_pushdown(parse_filter(where), kinds) == pushed


def test_milvus_pushdown_refuses_titles_milvus_truncates() -> None:
    long = field_kinds([{"title": "t" * 2000, "category": "Milk"}])
    assert milvus_pushdown(parse_filter("title > 'a'"), long) is None
    assert milvus_pushdown(parse_filter("category > 'a'"), long) == 'category > "a"'
