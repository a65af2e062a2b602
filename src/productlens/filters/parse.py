"""Tokenizer and recursive-descent parser: filter text -> syntax tree, or FilterSyntaxError.

Every error names a position. Expressions are capped in size (length, nesting, terms, literal
length) so hostile input costs bounded time and stack before anything is evaluated.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import FilterSyntaxError
from .nodes import Compare, Contains, Field, InList, IsNull, Like, Node, Not, And, Or, Scalar

TOP_LEVEL_FIELDS = frozenset({"id", "title", "category", "description"})
KEYWORDS = frozenset({"and", "or", "not", "in", "is", "null", "like", "contains", "true", "false"})

MAX_LENGTH = 20_000  # characters of expression text (an `in` list of ~1,000 SKUs fits)
MAX_DEPTH = 64  # nesting of "not" / parentheses; keeps hostile input from exhausting the stack
MAX_TERMS = 1_000  # tests plus `in` values: evaluation cost per product grows with this
MAX_LITERAL = 1_000  # characters of one quoted string or number (`like` work grows with it)

_OPS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
# No nested or overlapping quantifiers: each alternative fails in time linear in the input.
_TOKEN_RE = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<num>-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(?![\w.])"
    r"|(?P<ident>[^\W\d]\w*(?:\.[^\W\d]\w*)*)"
    r"|(?P<op>==|!=|<>|<=|>=|=|<|>)"
    r"|(?P<punct>[(),])"
)
_ESCAPES = {"'": "'", '"': '"', "\\": "\\"}


@dataclass(frozen=True)
class _Token:
    kind: str  # str | num | ident | op | punct | end
    text: str  # source text
    value: Any
    pos: int

    @property
    def word(self) -> str:
        """Lower-cased text of an identifier (for keyword checks); '' for other tokens."""
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


def _check_literal(raw_length: int, pos: int) -> None:
    if raw_length > MAX_LITERAL:
        raise FilterSyntaxError(
            f"literal at position {pos} is {raw_length:,} characters long, over the {MAX_LITERAL:,} limit"
        )


def tokenize(text: str) -> list[_Token]:
    """Split filter text into tokens, ending with an `end` token."""
    tokens, i = [], 0
    while i < len(text):
        if text[i] in "'\"":
            value, end = _read_string(text, i)
            _check_literal(len(value), i)
            tokens.append(_Token("str", text[i:end], value, i))
            i = end
            continue
        m = _TOKEN_RE.match(text, i)
        if m is None:
            raise FilterSyntaxError(f"unexpected character {text[i]!r} at position {i}")
        kind, raw = m.lastgroup or "", m.group()
        if kind == "num":
            _check_literal(len(raw), i)
            value: Any = float(raw) if any(c in raw for c in ".eE") else int(raw)
            if not math.isfinite(value):
                raise FilterSyntaxError(f"number {raw!r} at position {i} is out of range")
            tokens.append(_Token(kind, raw, value, i))
        elif kind != "ws":
            tokens.append(_Token(kind, raw, raw, i))
        i = m.end()
    tokens.append(_Token("end", "", None, len(text)))
    return tokens


def parse(text: str) -> Node:
    """Parse filter text into a syntax tree; raises FilterSyntaxError pointing at the bad token."""
    if not isinstance(text, str):
        raise FilterSyntaxError(f"a filter must be text, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise FilterSyntaxError(
            f"filter expression is {len(text):,} characters long, over the {MAX_LENGTH:,} limit"
        )
    return _Parser(tokenize(text)).parse()


class _Parser:
    """Recursive descent over the token list; every error names a position."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = 0
        self.terms = 0

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

    def count_terms(self, n: int = 1) -> None:
        self.terms += n
        if self.terms > MAX_TERMS:
            raise FilterSyntaxError(
                f"expression has more than {MAX_TERMS:,} terms (tests and 'in' values) "
                f"at position {self.peek.pos}"
            )

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
        if self.accept("not"):
            return Not(self.nested(self.not_expr))
        if self.accept("("):
            node = self.nested(self.or_expr)
            self.expect(")")
            return node
        return self.predicate()

    def nested(self, parse: Callable[[], Node]) -> Node:
        """`parse` one level deeper: up to MAX_DEPTH levels of "not" / parentheses are accepted."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterSyntaxError(f"expression nested deeper than {MAX_DEPTH} at position {self.peek.pos}")
        node = parse()
        self.depth -= 1
        return node

    def predicate(self) -> Node:
        self.count_terms()
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
        if tok.kind != "ident" or tok.word in KEYWORDS:
            raise self.error("a field name")
        self.take()
        return resolve_field(tok.text, tok.pos)

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
            self.count_terms()
            values.append(self.value())
        self.expect(")")
        if any(v is None for v in values):
            raise FilterSyntaxError("null inside an 'in' list never matches: use 'is null'")
        return tuple(values)


def resolve_field(name: str, pos: int) -> Field:
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
