"""A small, safe filter language over product metadata (`--where` and the REST API).

    expr     := or_expr
    or_expr  := and_expr ("or" and_expr)*
    and_expr := not_expr ("and" not_expr)*
    not_expr := "not" not_expr | atom
    atom     := "(" expr ")" | field op value | field ["not"] "in" "(" value ("," value)* ")"
              | field "is" ["not"] "null" | field "like" string | field "contains" string
    op       := = | == | != | <> | < | <= | > | >=

Text is tokenised and parsed into frozen dataclasses (`parse`), evaluated in Python
(`evaluate`); nothing is ever pasted into SQL, and nothing on the data side runs a backtracking
regex: evaluation is linear in the length of the values (`wildcard`). `id`, `title`, `category`,
`description` name top-level keys; any other name (or `attributes.name`) names
`product["attributes"][name]`. Expressions are capped in size (`parse.MAX_*`). docs/filters.md
is the user's guide; `milvus` turns a filter into a Milvus expression for the index server.

Semantics, SQL-like but two-valued: a missing (or null) field makes every test false except
`is null`, including `!=` and `not in`. A number against a numeric string compares numerically
(CSV attributes arrive as strings, so price "2.50" < 3 is true); two strings compare as strings,
case-sensitively. Values of types that cannot be compared are unequal (`!=` true, ordering false).
`like` (% and _ wildcards, backslash escapes them) and `contains` ignore case, and on a list
value match when any item does. Comparing with a null literal is rejected: write `is null`.
"""

from __future__ import annotations

from .expression import Filter, as_filter, filter_from_options, parse_filter
from .milvus import (
    MILVUS_PRODUCT_FIELDS,
    MILVUS_SCALAR_FIELDS,
    MILVUS_TEXT_MAX,
    field_kinds,
    milvus_pushdown,
    value_kind,
)
from .parse import MAX_DEPTH, MAX_LENGTH, MAX_LITERAL, MAX_TERMS, TOP_LEVEL_FIELDS

__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_LITERAL",
    "MAX_TERMS",
    "MILVUS_PRODUCT_FIELDS",
    "MILVUS_SCALAR_FIELDS",
    "MILVUS_TEXT_MAX",
    "TOP_LEVEL_FIELDS",
    "Filter",
    "as_filter",
    "field_kinds",
    "filter_from_options",
    "milvus_pushdown",
    "parse_filter",
    "value_kind",
]
