"""Filter fuzzer (issue #12): random expressions over hostile products, random text to the parser.

Every parse either succeeds or raises FilterSyntaxError; every evaluation returns a bool and,
per expression over a few random products plus one whose every value is 5,000 characters long,
finishes within a time cap that a backtracking matcher blows by orders of magnitude. The cap
guards against hangs; it is not a speed target (benchmarks hold those).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from productlens.errors import FilterSyntaxError
from productlens.filters import Filter, parse_filter

from filters.samples import STRESS
from guards import time_limit

CAP_S = 2.0  # per expression, all products; the linear matcher needs milliseconds
FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure is reproducible
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

FIELDS = ["id", "title", "category", "description", "brand", "price", "tags", "attributes.size", "attributes.x"]
OPS = ["=", "==", "!=", "<>", "<", "<=", ">", ">="]
WILD = "e%_q\\' a"  # characters that make wildcard patterns and quoting hard


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


# Runs of `%e` over long runs of e made the former regex backtrack for minutes.
# ...when the text then fails to match at its end, hence the tail.
hostile_patterns = st.tuples(
    st.lists(st.sampled_from(["%e", "%", "e", "_", "%_", "1"]), min_size=3, max_size=24),
    st.sampled_from(["q", "qqq", "", "%"]),
).map(lambda t: "".join(t[0]) + t[1])
strings = st.one_of(hostile_patterns, st.text(alphabet=WILD, max_size=40), st.text(max_size=20)).map(_quoted)
numbers = st.one_of(
    st.integers(-(10**12), 10**12), st.floats(allow_nan=False, allow_infinity=False)
).map(repr)
values = st.one_of(strings, numbers, st.sampled_from(["true", "false", "TRUE", "null"]))
fields = st.sampled_from(FIELDS)

wildcards = st.tuples(fields, st.sampled_from(["like", "contains", "LIKE"]), hostile_patterns.map(_quoted)).map(
    " ".join
)
predicates = st.one_of(
    wildcards,
    wildcards,  # twice: the likeliest way to hang a matcher
    st.tuples(fields, st.sampled_from(OPS), values).map(" ".join),
    st.tuples(fields, st.sampled_from(["in", "not in"]), st.lists(values, min_size=1, max_size=5)).map(
        lambda t: f"{t[0]} {t[1]} ({', '.join(t[2])})"
    ),
    st.tuples(fields, st.sampled_from(["is null", "is not null", "IS NOT NULL"])).map(" ".join),
    st.tuples(fields, st.sampled_from(["like", "contains", "LIKE"]), strings).map(" ".join),
)
expressions = st.recursive(
    predicates,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or", "AND"]), inner).map(" ".join),
        inner.map(lambda e: f"not {e}"),
        inner.map(lambda e: f"({e})"),
    ),
    max_leaves=12,
)

long_texts = st.builds(
    lambda unit, n: unit * n, st.sampled_from(["e", "ea", "1", " ", "%_", "qe"]), st.sampled_from([1, 100, 5_000])
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30), long_texts,
    st.sampled_from(["2.50", " 7 ", "1e3", "-0", "true", "nan"]),
)
field_values = st.one_of(
    scalars, st.lists(scalars, max_size=4), st.dictionaries(st.text(max_size=5), scalars, max_size=2)
)
ATTRIBUTES = ["brand", "price", "tags", "size", "x"]
mostly_long = st.one_of(long_texts, scalars)
products = st.lists(
    st.fixed_dictionaries(
        {"id": st.text(max_size=10), "title": mostly_long, "category": scalars, "description": mostly_long},
        optional={
            "attributes": st.fixed_dictionaries(
                {}, optional={name: st.one_of(long_texts, field_values) for name in ATTRIBUTES}
            )
        },
    ),
    min_size=1,
    max_size=4,
)


def _evaluate_capped(flt: Filter, items: list[dict[str, Any]]) -> None:
    with time_limit(CAP_S):
        results = [flt.matches(p) for p in [*items, STRESS]]
    assert all(isinstance(r, bool) for r in results)


@FUZZ
@given(where=expressions, items=products)
def test_generated_expressions_evaluate_within_the_cap(where: str, items: list[dict[str, Any]]) -> None:
    try:
        flt = parse_filter(where)
    except FilterSyntaxError:
        return  # e.g. `price = null`: refused with a message, which is all that is asked
    _evaluate_capped(flt, items)
    assert parse_filter(where) == flt and flt.fields()


@FUZZ
@given(where=st.text(max_size=200))
def test_arbitrary_text_parses_or_raises_a_syntax_error(where: str) -> None:
    try:
        parse_filter(where)
    except FilterSyntaxError as exc:
        assert str(exc)


tokens = st.sampled_from(
    ["(", ")", ",", "and", "or", "not", "in", "is", "null", "like", "contains", "true", "=", "<>", ">=",
     "price", "attributes.x", "a.b", "'x'", "'", '"', "\\", "1e999", "-.5", "1" * 4_400, "%", "_", ";"]
)


@FUZZ
@given(parts=st.lists(st.one_of(tokens, predicates), max_size=40), spacer=st.sampled_from([" ", "", "\n"]))
def test_token_soup_parses_or_raises_a_syntax_error(parts: list[str], spacer: str) -> None:
    where = spacer.join(parts)
    try:
        flt = parse_filter(where)
    except FilterSyntaxError:
        return
    _evaluate_capped(flt, [])
