"""A small, safe filter language over product metadata (`--where` and the REST API).

    expr     := or_expr
    or_expr  := and_expr ("or" and_expr)*
    and_expr := not_expr ("and" not_expr)*
    not_expr := "not" not_expr | atom
    atom     := "(" expr ")" | field op value | field ["not"] "in" "(" value ("," value)* ")"
              | field "is" ["not"] "null" | field "like" string | field "contains" string
    op       := = | == | != | <> | < | <= | > | >=

Text is tokenised and parsed into frozen dataclasses, evaluated in Python; nothing is ever
pasted into SQL. `id`, `title`, `category`, `description` name top-level keys; any other name
(or `attributes.name`) names `product["attributes"][name]`.

Semantics, SQL-like but two-valued: a missing (or null) field makes every test false except
`is null`, including `!=` and `not in`. A number against a numeric string compares numerically
(CSV attributes arrive as strings, so price "2.50" < 3 is true); two strings compare as strings,
case-sensitively. Values of types that cannot be compared are unequal (`!=` true, ordering false).
`like` (% and _ wildcards, backslash escapes them) and `contains` ignore case. Comparing with a
null literal is rejected: write `is null` / `is not null`.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Union

from productlens.errors import FilterSyntaxError

__all__ = [
    "MILVUS_SCALAR_FIELDS",
    "TOP_LEVEL_FIELDS",
    "Filter",
    "as_filter",
    "field_kinds",
    "filter_from_options",
    "milvus_pushdown",
    "parse_filter",
]

TOP_LEVEL_FIELDS = frozenset({"id", "title", "category", "description"})
MILVUS_SCALAR_FIELDS = frozenset({"id", "title", "category"})
MILVUS_PRODUCT_FIELDS = ("title", "category")  # product fields a catalogue's Milvus rows carry (`id` is the image's)
MILVUS_TEXT_MAX = 1024  # characters of title and category a Milvus row keeps (index/milvus.py's schema)
MAX_DEPTH = 64  # nesting of "not" / parentheses; keeps hostile input from exhausting the stack

Scalar = Union[str, int, float, bool, None]

# ---------------------------------------------------------------- AST


@dataclass(frozen=True)
class Field:
    name: str
    attribute: bool  # True: product["attributes"][name]; False: product[name]


@dataclass(frozen=True)
class Compare:
    field: Field
    op: str  # one of = != < <= > >=
    value: Scalar


@dataclass(frozen=True)
class InList:
    field: Field
    values: tuple[Scalar, ...]
    negated: bool


@dataclass(frozen=True)
class IsNull:
    field: Field
    negated: bool


@dataclass(frozen=True)
class Like:
    field: Field
    pattern: str


@dataclass(frozen=True)
class Contains:
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

# ---------------------------------------------------------------- tokens

_KEYWORDS = frozenset({"and", "or", "not", "in", "is", "null", "like", "contains", "true", "false"})
_OPS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_TOKEN_RE = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<num>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)(?![\w.])"
    r"|(?P<ident>[^\W\d]\w*(?:\.[^\W\d]\w*)*)"
    r"|(?P<op>==|!=|<>|<=|>=|=|<|>)"
    r"|(?P<punct>[(),])"
)
_ESCAPES = {"'": "'", '"': '"', "\\": "\\"}


@dataclass(frozen=True)
class _Token:
    kind: str  # str | num | ident | op | punct | end
    text: str  # source text (lower-cased for keyword checks via .word)
    value: Any
    pos: int

    @property
    def word(self) -> str:
        return self.text.lower() if self.kind == "ident" else ""


def _read_string(text: str, start: int) -> tuple[str, int]:
    """Read a quoted string at `start`; doubled quotes and \\' \\" \\\\ are escapes."""
    quote, out, i = text[start], [], start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPES:
            out.append(_ESCAPES[text[i + 1]])
            i += 2
        elif ch == quote and text[i + 1 : i + 2] == quote:
            out.append(quote)
            i += 2
        elif ch == quote:
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise FilterSyntaxError(f"unterminated string starting at position {start}")


def _tokenize(text: str) -> list[_Token]:
    tokens, i = [], 0
    while i < len(text):
        if text[i] in "'\"":
            value, end = _read_string(text, i)
            tokens.append(_Token("str", text[i:end], value, i))
            i = end
            continue
        m = _TOKEN_RE.match(text, i)
        if m is None:
            raise FilterSyntaxError(f"unexpected character {text[i]!r} at position {i}")
        kind, raw = m.lastgroup or "", m.group()
        if kind == "num":
            value: Any = float(raw) if any(c in raw for c in ".eE") else int(raw)
            if not math.isfinite(value):
                raise FilterSyntaxError(f"number {raw!r} at position {i} is out of range")
            tokens.append(_Token(kind, raw, value, i))
        elif kind != "ws":
            tokens.append(_Token(kind, raw, raw, i))
        i = m.end()
    tokens.append(_Token("end", "", None, len(text)))
    return tokens


# ---------------------------------------------------------------- parser


class _Parser:
    """Recursive descent over the token list; every error names a position."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0

    def parse(self) -> Node:
        if self.peek.kind == "end":
            raise FilterSyntaxError("empty filter expression")
        node = self.or_expr()
        if self.peek.kind != "end":
            raise self.error("'and', 'or' or end of expression")
        return node

    @property
    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def error(self, expected: str) -> FilterSyntaxError:
        tok = self.peek
        found = "end of expression" if tok.kind == "end" else repr(tok.text)
        return FilterSyntaxError(f"expected {expected} at position {tok.pos}, found {found}")

    def accept(self, word: str) -> bool:
        if self.peek.word == word or (self.peek.kind == "punct" and self.peek.text == word):
            self.i += 1
            return True
        return False

    def expect(self, word: str) -> None:
        if not self.accept(word):
            raise self.error(repr(word))

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.accept("or"):
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Node:
        items = [self.not_expr()]
        while self.accept("and"):
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else And(tuple(items))

    def not_expr(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterSyntaxError(
                f"expression nested deeper than {MAX_DEPTH} at position {self.peek.pos}"
            )
        if self.accept("not"):
            node: Node = Not(self.not_expr())
        elif self.accept("("):
            node = self.or_expr()
            self.expect(")")
        else:
            node = self.predicate()
        self.depth -= 1
        return node

    def predicate(self) -> Node:
        fld = self.field()
        tok = self.peek
        if tok.kind == "op":
            self.take()
            value = self.value()
            if value is None:
                raise FilterSyntaxError(
                    f"comparison with null at position {tok.pos}: use 'is null' or 'is not null'"
                )
            return Compare(fld, _OPS[tok.text], value)
        if self.accept("is"):
            negated = self.accept("not")
            self.expect("null")
            return IsNull(fld, negated)
        if self.accept("like"):
            return Like(fld, self.string())
        if self.accept("contains"):
            return Contains(fld, self.string())
        negated = self.accept("not")
        if self.accept("in"):
            return InList(fld, self.value_list(), negated)
        raise self.error("an operator (=, !=, <, <=, >, >=, in, not in, is, like, contains)")

    def field(self) -> Field:
        tok = self.peek
        if tok.kind != "ident" or tok.word in _KEYWORDS:
            raise self.error("a field name")
        self.take()
        return _resolve_field(tok.text, tok.pos)

    def value(self) -> Scalar:
        tok = self.peek
        if tok.kind in ("str", "num"):
            return self.take().value
        if tok.word in ("true", "false", "null"):
            self.take()
            return {"true": True, "false": False, "null": None}[tok.word]
        hint = f" (quote text: '{tok.text}')" if tok.kind == "ident" else ""
        raise self.error("a value: quoted string, number, true, false or null" + hint)

    def string(self) -> str:
        if self.peek.kind != "str":
            raise self.error("a quoted string")
        return str(self.take().value)

    def value_list(self) -> tuple[Scalar, ...]:
        self.expect("(")
        values = [self.value()]
        while self.accept(","):
            values.append(self.value())
        self.expect(")")
        if any(v is None for v in values):
            raise FilterSyntaxError("null inside an 'in' list never matches: use 'is null'")
        return tuple(values)


def _resolve_field(name: str, pos: int) -> Field:
    """Map `title` to a top-level key, `brand` / `attributes.brand` to an attribute."""
    head, _, rest = name.partition(".")
    if not rest:
        if name == "attributes":
            raise FilterSyntaxError(
                f"'attributes' at position {pos} needs a key: attributes.<name>"
            )
        return Field(name, attribute=name not in TOP_LEVEL_FIELDS)
    if head == "attributes" and "." not in rest:
        return Field(rest, attribute=True)
    raise FilterSyntaxError(
        f"unknown field {name!r} at position {pos}: only attributes.<name> may contain a dot"
    )


# ---------------------------------------------------------------- evaluation

_NUMERIC_RE = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


def _as_number(v: Any) -> float | int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, str) and _NUMERIC_RE.fullmatch(v):
        return float(v)
    return None


def _as_bool(v: Any) -> bool | None:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("true", "false"):
        return v.strip().lower() == "true"
    return None


def _compare(actual: Any, op: str, expected: Scalar) -> bool:
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


@lru_cache(maxsize=256)
def _like_regex(pattern: str) -> re.Pattern[str]:
    parts, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "%_\\":
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _lookup(product: Mapping[str, Any], fld: Field) -> Any:
    if not fld.attribute:
        return product.get(fld.name)
    attributes = product.get("attributes")
    return attributes.get(fld.name) if isinstance(attributes, Mapping) else None


def _text(value: Any) -> str | None:
    return None if isinstance(value, (Mapping, list, tuple)) else str(value)


def _evaluate(node: Node, product: Mapping[str, Any]) -> bool:
    if isinstance(node, And):
        return all(_evaluate(n, product) for n in node.operands)
    if isinstance(node, Or):
        return any(_evaluate(n, product) for n in node.operands)
    if isinstance(node, Not):
        return not _evaluate(node.operand, product)
    actual = _lookup(product, node.field)
    if isinstance(node, IsNull):
        return (actual is None) != node.negated
    if actual is None:
        return False
    if isinstance(node, Compare):
        return _compare(actual, node.op, node.value)
    if isinstance(node, InList):
        return any(_compare(actual, "=", v) for v in node.values) != node.negated
    text = _text(actual)
    if text is None:
        return False
    if isinstance(node, Like):
        return _like_regex(node.pattern).fullmatch(text) is not None
    return node.text.casefold() in text.casefold()


# ---------------------------------------------------------------- Milvus


def _milvus_literal(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)  # double-quoted; escapes ", \ and control chars


def _milvus_field(fld: Field, scalar_fields: Collection[str]) -> str:
    if fld.attribute:
        return f"attributes[{_milvus_literal(fld.name)}]"
    if fld.name not in scalar_fields:
        raise FilterSyntaxError(
            f"field {fld.name!r} is not a Milvus scalar field; cannot push it down"
        )
    return fld.name


def _milvus(node: Node, scalar: Collection[str]) -> str:
    def sub(child: Node) -> str:
        text = _milvus(child, scalar)
        return f"({text})" if isinstance(child, (And, Or)) else text

    if isinstance(node, And):
        return " and ".join(sub(n) for n in node.operands)
    if isinstance(node, Or):
        return " or ".join(sub(n) for n in node.operands)
    if isinstance(node, Not):
        return f"not ({_milvus(node.operand, scalar)})"
    name = _milvus_field(node.field, scalar)
    if isinstance(node, Compare):
        return f"{name} {'==' if node.op == '=' else node.op} {_milvus_literal(node.value)}"
    if isinstance(node, InList):
        values = ", ".join(_milvus_literal(v) for v in node.values)
        return f"{name} {'not in' if node.negated else 'in'} [{values}]"
    if isinstance(node, IsNull):
        if node.field.attribute:
            return f"exists {name}" if node.negated else f"not exists {name}"
        return f"{name} is {'not ' if node.negated else ''}null"
    if isinstance(node, Like):
        return f"{name} like {_milvus_literal(node.pattern)}"
    escaped = re.sub(r"([%_\\])", r"\\\1", node.text)
    return f"{name} like {_milvus_literal('%' + escaped + '%')}"


# ---------------------------------------------------------------- public API


@dataclass(frozen=True)
class Filter:
    """A parsed filter expression; `Filter(text)` parses and raises FilterSyntaxError."""

    source: str
    node: Node = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "node", _Parser(self.source).parse())

    def matches(self, product: Mapping[str, Any]) -> bool:
        """True when the product satisfies the expression."""
        return _evaluate(self.node, product)

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
        return _milvus(self.node, scalar_fields)


def parse_filter(text: str) -> Filter:
    """Parse a `--where` expression; raises FilterSyntaxError pointing at the bad token."""
    return Filter(text)


def as_filter(where: "str | Filter | None") -> Filter | None:
    """A Filter from text or a Filter; None (no filter) for None or blank text."""
    if where is None or isinstance(where, Filter):
        return where
    return parse_filter(where) if where.strip() else None


# ---------------------------------------------------------------- pushing filters down to Milvus


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


def _pushable(node: Node, kinds: Mapping[str, frozenset[str]]) -> bool:
    """True when Milvus evaluates `node` on a catalogue's rows without missing a match."""
    if isinstance(node, (And, Or)):
        return all(_pushable(n, kinds) for n in node.operands)
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
    if not _pushable(flt.node, kinds):
        return None
    return flt.to_milvus(MILVUS_PRODUCT_FIELDS)


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
        if not _FIELD_RE.fullmatch(key) or key.lower() in _KEYWORDS:
            raise FilterSyntaxError(f"option name {key!r} is not a field name")
        if isinstance(value, (list, tuple)):
            if not value:
                raise FilterSyntaxError(f"option {key} has an empty list of values")
            clauses.append(f"{key} in ({', '.join(_quote(v, key) for v in value)})")
        else:
            clauses.append(f"{key} = {_quote(value, key)}")
    return parse_filter(" and ".join(clauses)) if clauses else None
