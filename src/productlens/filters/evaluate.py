"""Evaluate a filter's syntax tree against one product (a mapping, as `Product.to_dict()` gives).

Semantics, SQL-like but two-valued: a missing (or null) field makes every test false except
`is null`. A number against a numeric string compares numerically (CSV attributes arrive as
strings). `like` and `contains` ignore case and, on a list value, match when any item does.
Work per product is linear in the length of its values: no backtracking regex runs on data.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from .nodes import And, Compare, Field, InList, IsNull, Like, Node, Not, Or, Scalar
from .wildcard import compile_like

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


def _as_number(v: Any) -> float | int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, str):
        # float() parses in C, in linear time (the former regex was quadratic: 4,000 digits took
        # 4 s per comparison); the checks keep out what float() takes but a price never is:
        # inf, nan, infinity (they end in a letter) and 1_000.
        text = v.strip()
        if text[-1:].isdigit() or text.endswith("."):
            if "_" not in text:
                try:
                    return float(text)
                except ValueError:
                    return None
    return None


def _as_bool(v: Any) -> bool | None:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("true", "false"):
        return v.strip().lower() == "true"
    return None


def compare(actual: Any, op: str, expected: Scalar) -> bool:
    """Compare a present value with a literal, coercing numeric strings and boolean strings."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        pair: tuple[Any, Any] = (_as_bool(actual), _as_bool(expected))
    elif isinstance(expected, (int, float)) or isinstance(actual, (int, float)):
        pair = (_as_number(actual), _as_number(expected))
    elif isinstance(actual, str):
        pair = (actual, expected)
    else:
        pair = (None, None)
    if pair[0] is None or pair[1] is None:
        return op == "!="  # incomparable types are simply unequal
    return _COMPARE[op](*pair)


def lookup(product: Mapping[str, Any], fld: Field) -> Any:
    """The field's value in `product`, or None when it is missing."""
    if not fld.attribute:
        return product.get(fld.name)
    attributes = product.get("attributes")
    return attributes.get(fld.name) if isinstance(attributes, Mapping) else None


def _texts(value: Any) -> list[str]:
    """A value as the texts `like` / `contains` search: the items of a list, none of a mapping."""
    items = value if isinstance(value, (list, tuple)) else [value]
    texts = []
    for item in items:
        if item is None or isinstance(item, (Mapping, list, tuple)):
            continue
        try:
            texts.append(str(item))
        except ValueError:  # an int too long to print (Python's digit limit)
            continue
    return texts


def evaluate(node: Node, product: Mapping[str, Any]) -> bool:
    """True when `product` satisfies the expression `node`."""
    if isinstance(node, And):
        return all(evaluate(n, product) for n in node.operands)
    if isinstance(node, Or):
        return any(evaluate(n, product) for n in node.operands)
    if isinstance(node, Not):
        return not evaluate(node.operand, product)
    actual = lookup(product, node.field)
    if isinstance(node, IsNull):
        return (actual is None) != node.negated
    if actual is None:
        return False
    if isinstance(node, Compare):
        return compare(actual, node.op, node.value)
    if isinstance(node, InList):
        return any(compare(actual, "=", v) for v in node.values) != node.negated
    texts = (actual,) if isinstance(actual, str) else _texts(actual)
    if isinstance(node, Like):
        pattern = compile_like(node.pattern)
        return any(pattern.matches(text) for text in texts)
    needle = node.text.casefold()
    return any(needle in text.casefold() for text in texts)
