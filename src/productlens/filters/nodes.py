"""The syntax tree of a filter expression: frozen dataclasses, so a parsed filter is a value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

Scalar = Union[str, int, float, bool, None]


@dataclass(frozen=True)
class Field:
    """A product field: a top-level key (`title`) or an attribute (`brand`, `attributes.brand`)."""

    name: str
    attribute: bool  # True: product["attributes"][name]; False: product[name]


@dataclass(frozen=True)
class Compare:
    """`field op value` with op one of = != < <= > >=."""

    field: Field
    op: str
    value: Scalar


@dataclass(frozen=True)
class InList:
    """`field [not] in (v1, v2, ...)`."""

    field: Field
    values: tuple[Scalar, ...]
    negated: bool


@dataclass(frozen=True)
class IsNull:
    """`field is [not] null`: the only test a missing field passes."""

    field: Field
    negated: bool


@dataclass(frozen=True)
class Like:
    """`field like 'pattern'` with % (any run) and _ (one character) wildcards."""

    field: Field
    pattern: str


@dataclass(frozen=True)
class Contains:
    """`field contains 'text'`: a case-insensitive substring test."""

    field: Field
    text: str


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


Node = Union[Compare, InList, IsNull, Like, Contains, Not, And, Or]
Predicate = Union[Compare, InList, IsNull, Like, Contains]
