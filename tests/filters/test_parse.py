"""Parsing filters: syntax errors name a position; Filter values; filters built from options."""

from __future__ import annotations

import pytest

from productlens.errors import FilterSyntaxError
from productlens.filters import Filter, as_filter, filter_from_options, parse_filter

from filters.samples import PRODUCTS


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


@pytest.mark.parametrize(
    ("where", "fragment"),
    [
        ("title = '" + "x" * 20_000 + "'", "over the 20,000 limit"),
        (" or ".join(["price < 3"] * 1_001), "more than 1,000 terms"),
        ("sku in (" + ", ".join(["'a'"] * 1_001) + ")", "more than 1,000 terms"),
        ("title = '" + "x" * 1_001 + "'", "1,001 characters long, over the 1,000 limit"),
        ("title like '" + "%e" * 501 + "'", "over the 1,000 limit"),
        ("price < " + "1" * 5_000, "over the 1,000 limit"),  # int() refuses 4,300+ digits
        ("price < 1" + "0" * 400 + ".5", "out of range"),
    ],
)
def test_size_limits_are_syntax_errors(where: str, fragment: str) -> None:
    with pytest.raises(FilterSyntaxError) as excinfo:
        parse_filter(where)
    assert fragment in str(excinfo.value)


def test_expressions_at_the_limits_parse() -> None:
    assert parse_filter("title = '" + "x" * 1_000 + "'").matches({"title": "x" * 1_000})
    assert parse_filter(" or ".join(["price < 3"] * 1_000)).matches({"attributes": {"price": 1}})
    skus = [f"S{i}" for i in range(999)]
    f = parse_filter("sku in (" + ", ".join(f"'{s}'" for s in skus) + ") and price < 3")
    assert f.matches({"attributes": {"sku": "S998", "price": "2"}})


def test_non_text_is_a_syntax_error() -> None:
    with pytest.raises(FilterSyntaxError, match="must be text"):
        parse_filter(b"price < 3")  # type: ignore[arg-type]


@pytest.mark.parametrize("nest", [lambda n: "not " * n + "price < 3", lambda n: "(" * n + "price < 3" + ")" * n],
                         ids=["not", "parentheses"])
def test_nesting_of_exactly_64_is_accepted_and_65_refused(nest):
    """docs/filters.md: "nests `not` or parentheses more than 64 deep" is refused; 64 was refused too."""
    assert parse_filter(nest(64)) is not None
    with pytest.raises(FilterSyntaxError, match="nested deeper than 64"):
        parse_filter(nest(65))
