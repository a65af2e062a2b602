"""Filter evaluation over a catalogue's products: the current matcher vs the former regex one.

    python benchmarks/bench_filters.py [--root DIR] [--products 1500] [--cap 5]

Products: the 81 Grocery Store classes (title, English description of ~200 characters, coarse
category) repeated to --products, with a CSV-style price ("2.50", text). For each filter, the
best of 5 passes of the evaluator over every product (what `list --where` runs), next to the
same walk with `like` compiled to a regex and numeric strings matched by the regex that
filters.py used up to 9cf3420 (the baseline). Hostile filters (issue #12) run the baseline under
a SIGALRM cap of --cap seconds per pass: "> cap" means it was stopped.
"""

from __future__ import annotations

import argparse
import re
import signal
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from productlens import settings
from productlens.catalog.datasets import grocery_classes
from productlens.filters import evaluate as current
from productlens.filters import parse_filter
from productlens.filters.nodes import Like

FILTERS = [
    ("typical", "title like 'apple%'"),
    ("typical", "title like '%class _'"),
    ("typical", "description like '%organic%milk%'"),
    ("typical", "title like '%mjölk%'"),
    ("typical", "description contains 'juice'"),
    ("typical", "price < 3 and category in ('Milk', 'Juice')"),
    ("hostile", "description like '%e%e%e%e%e%e%e%e%qqq'"),
    ("hostile", "description like '%e%e%e%e%qqq'"),
    ("hostile", "note like '" + "%_" * 200 + "qqq'"),
    ("hostile", "digits < 3"),
]


@lru_cache(maxsize=256)
def _former_like_regex(pattern: str) -> re.Pattern[str]:
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


_FORMER_NUMERIC_RE = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")


def _former_as_number(v: Any) -> float | int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, str) and _FORMER_NUMERIC_RE.fullmatch(v):
        return float(v)
    return None


def _former_evaluate(node: Any, product: Any) -> bool:
    """The current evaluator with the former regex `like` and numeric-string test swapped in."""
    if isinstance(node, Like):
        actual = current.lookup(product, node.field)
        return actual is not None and _former_like_regex(node.pattern).fullmatch(str(actual)) is not None
    return _CURRENT_EVALUATE(node, product)


_CURRENT_EVALUATE = current.evaluate
_CURRENT_AS_NUMBER = current._as_number


class _Stopped(Exception):
    pass


def _best_ms(run: Any, passes: int, cap_s: float) -> float | None:
    """Best wall time of `passes` runs in ms, or None when a run passes `cap_s` (SIGALRM stops it)."""

    def expire(signum: int, frame: Any) -> None:
        raise _Stopped

    previous = signal.signal(signal.SIGALRM, expire)
    best = float("inf")
    try:
        for _ in range(passes):
            signal.setitimer(signal.ITIMER_REAL, cap_s)
            started = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - started)
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _Stopped:
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return best * 1000


def products(root: Path, count: int) -> list[dict[str, Any]]:
    classes = grocery_classes(root)
    out = []
    for i in range(count):
        c = classes[i % len(classes)]
        out.append({
            "id": f"{c.name}-{i}", "title": c.title, "category": c.coarse_name, "description": c.description,
            "attributes": {"price": f"{1 + i % 7}.50", "note": "e" * 2_000, "digits": "1" * 2_000 + "x"},
        })
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path(str(settings.get("grocery_root"))))
    parser.add_argument("--products", type=int, default=1500)
    parser.add_argument("--cap", type=float, default=5.0, help="seconds before a baseline pass is stopped")
    args = parser.parse_args()
    items = products(args.root, args.products)
    print(f"{len(items)} products; best of 5 passes over all of them; baseline = former regex matcher")
    print(f"{'':8} {'filter':52} {'matches':>7} {'now ms':>9} {'before ms':>10}")
    for kind, where in FILTERS:
        flt = parse_filter(where)
        matched = sum(flt.matches(p) for p in items)
        now = _best_ms(lambda: [current.evaluate(flt.node, p) for p in items], 5, args.cap)
        # The baseline: the same walk with the former leaves patched in (like, numeric strings).
        current.evaluate, current._as_number = _former_evaluate, _former_as_number
        try:
            passes = 5 if kind == "typical" else 1
            before = _best_ms(lambda: [current.evaluate(flt.node, p) for p in items], passes, args.cap)
        finally:
            current.evaluate, current._as_number = _CURRENT_EVALUATE, _CURRENT_AS_NUMBER
        shown = where if len(where) <= 52 else where[:49] + "..."
        fmt = lambda ms: f"> {args.cap * 1000:.0f}" if ms is None else f"{ms:.2f}"  # noqa: E731
        print(f"{kind:8} {shown:52} {matched:7d} {fmt(now):>9} {fmt(before):>10}")


if __name__ == "__main__":
    main()
