"""Filters as Milvus boolean expressions, and when Milvus can evaluate one without missing a match."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import FilterSyntaxError
from .nodes import And, Compare, Field, InList, IsNull, Like, Node, Not, Or, Scalar

if TYPE_CHECKING:
    from .expression import Filter

MILVUS_SCALAR_FIELDS = frozenset({"id", "title", "category"})
MILVUS_PRODUCT_FIELDS = ("title", "category")  # product fields a catalogue's Milvus rows carry (`id` is the image's)
MILVUS_TEXT_MAX = 1024  # characters of title and category a Milvus row keeps (index/milvus.py's schema)


def _literal(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)  # double-quoted; escapes ", \ and control chars


def _field(fld: Field, scalar_fields: Collection[str]) -> str:
    if fld.attribute:
        return f"attributes[{_literal(fld.name)}]"
    if fld.name not in scalar_fields:
        raise FilterSyntaxError(
            f"field {fld.name!r} is not a Milvus scalar field; cannot push it down"
        )
    return fld.name


def to_milvus(node: Node, scalar: Collection[str] = MILVUS_SCALAR_FIELDS) -> str:
    """`node` as a Milvus expression over the given scalar fields (attributes as a JSON field)."""

    def sub(child: Node) -> str:
        text = to_milvus(child, scalar)
        return f"({text})" if isinstance(child, (And, Or)) else text

    if isinstance(node, And):
        return " and ".join(sub(n) for n in node.operands)
    if isinstance(node, Or):
        return " or ".join(sub(n) for n in node.operands)
    if isinstance(node, Not):
        return f"not ({to_milvus(node.operand, scalar)})"
    name = _field(node.field, scalar)
    if isinstance(node, Compare):
        return f"{name} {'==' if node.op == '=' else node.op} {_literal(node.value)}"
    if isinstance(node, InList):
        values = ", ".join(_literal(v) for v in node.values)
        return f"{name} {'not in' if node.negated else 'in'} [{values}]"
    if isinstance(node, IsNull):
        if node.field.attribute:
            return f"exists {name}" if node.negated else f"not exists {name}"
        return f"{name} is {'not ' if node.negated else ''}null"
    if isinstance(node, Like):
        return f"{name} like {_literal(node.pattern)}"
    escaped = re.sub(r"([%_\\])", r"\\\1", node.text)
    return f"{name} like {_literal('%' + escaped + '%')}"


def value_kind(value: Any) -> str:
    """'null', 'bool', 'num', 'str' or 'other': what a stored value is, as filters compare it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "num"
    return "str" if isinstance(value, str) else "other"


def field_kinds(products: Iterable[Mapping[str, Any]]) -> dict[str, frozenset[str]]:
    """Kinds of value each field holds across products: 'title', 'category', 'attributes.<name>'.

    Title and category also get 'long' when a value is longer than Milvus keeps (MILVUS_TEXT_MAX).
    """
    found: dict[str, set[str]] = {}
    for product in products:
        for name in MILVUS_PRODUCT_FIELDS:
            value = product.get(name)
            kinds = found.setdefault(name, set())
            kinds.add(value_kind(value))
            if isinstance(value, str) and len(value) > MILVUS_TEXT_MAX:
                kinds.add("long")
        for name, value in (product.get("attributes") or {}).items():
            found.setdefault(f"attributes.{name}", set()).add(value_kind(value))
    return {name: frozenset(kinds) for name, kinds in found.items()}


def pushable(node: Node, kinds: Mapping[str, frozenset[str]]) -> bool:
    """True when Milvus evaluates `node` on a catalogue's rows without missing a match."""
    if isinstance(node, (And, Or)):
        return all(pushable(n, kinds) for n in node.operands)
    if not isinstance(node, (Compare, InList)):
        return False  # not / is null flip or depend on missing-value rules; like is case-sensitive there
    fld = node.field
    if not fld.attribute and fld.name not in MILVUS_PRODUCT_FIELDS:
        return False  # id and description are not in the collection
    literals = {value_kind(v) for v in ((node.value,) if isinstance(node, Compare) else node.values)}
    if len(literals) != 1:
        return False
    literal = literals.pop()
    if literal == "bool" and isinstance(node, Compare) and node.op not in ("=", "!="):
        return False
    held = kinds.get(f"attributes.{fld.name}" if fld.attribute else fld.name, frozenset()) - {"null"}
    if not fld.attribute:
        return literal == "str" and held <= {"str"}  # a 'long' value is truncated in Milvus
    return held <= {literal}  # Milvus never coerces: "2.50" stays a string there


def milvus_pushdown(flt: Filter, kinds: Mapping[str, frozenset[str]]) -> str | None:
    """`flt` as a Milvus expression that may over-select but never misses a product, or None.

    Pushed: and/or of comparisons and `in` lists on title, category and attributes whose stored
    values (`kinds`, from `field_kinds`) all have the literal's type. Not pushed: `not`, `is
    null`, `like` / `contains` (case-sensitive in Milvus), `id`, `description`, and mixed types
    (Milvus does not coerce "2.50" to 2.5). Re-check the hits with `Filter.matches`.
    """
    if not pushable(flt.node, kinds):
        return None
    return to_milvus(flt.node, MILVUS_PRODUCT_FIELDS)
