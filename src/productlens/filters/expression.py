"""`Filter`: a parsed expression as a value, and the ways to make one (text, options)."""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import FilterSyntaxError
from .evaluate import evaluate
from .milvus import MILVUS_SCALAR_FIELDS, to_milvus
from .nodes import And, Node, Not, Or
from .parse import KEYWORDS, parse


@dataclass(frozen=True)
class Filter:
    """A parsed filter expression; `Filter(text)` parses and raises FilterSyntaxError."""

    source: str
    node: Node = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "node", parse(self.source))

    def matches(self, product: Mapping[str, Any]) -> bool:
        """True when the product satisfies the expression."""
        return evaluate(self.node, product)

    def fields(self) -> set[str]:
        """Field names referenced (`attributes.brand` reported as `brand`)."""
        found: set[str] = set()
        stack: list[Node] = [self.node]
        while stack:
            node = stack.pop()
            if isinstance(node, (And, Or)):
                stack.extend(node.operands)
            elif isinstance(node, Not):
                stack.append(node.operand)
            else:
                found.add(node.field.name)
        return found

    def to_milvus(self, scalar_fields: Collection[str] = MILVUS_SCALAR_FIELDS) -> str:
        """The same filter as a Milvus boolean expression, for pushing down to the index.

        Approximate where Milvus differs: its `like` is case-sensitive and JSON values are
        compared as stored (numeric strings stay strings), so re-check hits with `matches`.
        """
        return to_milvus(self.node, scalar_fields)


def parse_filter(text: str) -> Filter:
    """Parse a `--where` expression; raises FilterSyntaxError pointing at the bad token."""
    return Filter(text)


def as_filter(where: "str | Filter | None") -> Filter | None:
    """A Filter from text or a Filter; None (no filter) for None or blank text."""
    if where is None or isinstance(where, Filter):
        return where
    return parse_filter(where) if where.strip() else None


_FIELD_RE = re.compile(r"[^\W\d]\w*(?:\.[^\W\d]\w*)?")


def _quote(value: Any, key: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise FilterSyntaxError(f"option {key}={value!r} is not a finite number")
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
    raise FilterSyntaxError(f"option {key}={value!r}: expected a string, number or boolean")


def filter_from_options(**equals: Any) -> Filter | None:
    """AND of `field = value` for each option given (None values are skipped); None if none.

    A list or tuple value becomes `field in (...)`.
    """
    clauses = []
    for key, value in equals.items():
        if value is None:
            continue
        if not _FIELD_RE.fullmatch(key) or key.lower() in KEYWORDS:
            raise FilterSyntaxError(f"option name {key!r} is not a field name")
        if isinstance(value, (list, tuple)):
            if not value:
                raise FilterSyntaxError(f"option {key} has an empty list of values")
            clauses.append(f"{key} in ({', '.join(_quote(v, key) for v in value)})")
        else:
            clauses.append(f"{key} = {_quote(value, key)}")
    return parse_filter(" and ".join(clauses)) if clauses else None
