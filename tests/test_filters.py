"""Tests for the --where filter language: parsing, evaluation, errors, Milvus output."""

from __future__ import annotations

from typing import Any

import pytest

from productlens.errors import FilterSyntaxError
from productlens.filters import Filter, as_filter, field_kinds, filter_from_options, milvus_pushdown, parse_filter

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


@pytest.mark.parametrize(
    ("where", "fragment"),
    [
        ("category = 'Milk", "unterminated string starting at position 11"),
        ('title = "abc', "unterminated string"),
        ("price ~ 3", "unexpected character '~' at position 6"),
        ("price === 3", "position"),
        ("category = 'Milk' extra", "found 'extra'"),
        ("category = 'Milk')", "found ')'"),
        ("", "empty filter expression"),
        ("   ", "empty filter expression"),
        ("category = 'Milk'; drop table products", "unexpected character ';'"),
        ("1=1 or ''=''", "expected a field name at position 0, found '1'"),
        ("category = Milk", "quote text: 'Milk'"),
        ("category = ", "found end of expression"),
        ("category", "expected an operator"),
        ("and = 1", "expected a field name"),
        ("(category = 'Milk'", "expected ')'"),
        ("price in ()", "expected a value"),
        ("price in (1, 2", "expected ')'"),
        ("title like 3", "expected a quoted string"),
        ("brand = null", "use 'is null'"),
        ("brand in ('a', null)", "use 'is null'"),
        ("brand is 3", "expected 'null'"),
        ("a.b.c = 1", "unknown field 'a.b.c'"),
        ("attributes = 1", "needs a key"),
        ("price < 1e999", "out of range"),
        ("price < 3abc", "unexpected character '3'"),
        ("not " * 100 + "price < 3", "nested deeper"),
        ("(" * 100 + "price < 3" + ")" * 100, "nested deeper"),
    ],
)
def test_syntax_errors(where: str, fragment: str) -> None:
    with pytest.raises(FilterSyntaxError) as excinfo:
        parse_filter(where)
    assert fragment in str(excinfo.value)


def test_fields() -> None:
    f = parse_filter(
        "(category = 'Milk' or attributes.brand in ('a')) and not price is null and title like 'x%'"
    )
    assert f.fields() == {"category", "brand", "price", "title"}


def test_filter_is_a_value() -> None:
    assert Filter("price < 3") == parse_filter("price < 3")
    assert hash(Filter("price < 3")) == hash(parse_filter("price < 3"))
    assert parse_filter("price < 3").source == "price < 3"
    with pytest.raises(FilterSyntaxError):
        Filter("price <")


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


def test_filter_from_options() -> None:
    assert filter_from_options() is None
    assert filter_from_options(category=None, brand=None) is None
    f = filter_from_options(category="Milk", brand="Oatly")
    assert f is not None
    assert f.source == "category = 'Milk' and brand = 'Oatly'"
    assert [p["id"] for p in PRODUCTS if f.matches(p)] == ["SKU1"]
    assert f.to_milvus() == 'category == "Milk" and attributes["brand"] == "Oatly"'


def test_filter_from_options_quotes_values_safely() -> None:
    hostile = "x' or category = 'Milk"
    f = filter_from_options(brand=hostile)
    assert f is not None and f.fields() == {"brand"}
    assert not any(f.matches(p) for p in PRODUCTS)
    assert f.matches({"attributes": {"brand": hostile}})
    tricky = "O'Neil \"Dairy\" \\"
    g = filter_from_options(brand=tricky)
    assert g is not None and g.matches({"attributes": {"brand": tricky}})


def test_filter_from_options_types() -> None:
    f = filter_from_options(organic=True, price=2.5, category=["Milk", "Cheese"])
    assert f is not None
    assert f.source == "organic = true and price = 2.5 and category in ('Milk', 'Cheese')"
    assert [p["id"] for p in PRODUCTS if f.matches(p)] == ["SKU1"]
    with pytest.raises(FilterSyntaxError, match="not a field name"):
        filter_from_options(**{"brand = 'x' or id": "y"})
    with pytest.raises(FilterSyntaxError, match="finite"):
        filter_from_options(price=float("nan"))
    with pytest.raises(FilterSyntaxError, match="expected a string"):
        filter_from_options(brand={"a": 1})
    with pytest.raises(FilterSyntaxError, match="empty list"):
        filter_from_options(brand=[])


def test_as_filter() -> None:
    f = parse_filter("brand = 'Oatly'")
    assert as_filter(f) is f and as_filter(None) is None and as_filter("  ") is None
    assert as_filter("brand = 'Oatly'") == f


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
