"""Keyword search over product title, description, category and attributes (SQLite FTS5).

The index (`products_fts`) and the triggers that keep it in step with every insert, update and
delete of a product are created by migration m002_text_search, so it can never drift from the
products table. Queries are ranked by BM25 with per-column weights (a title hit counts most).
"""

from __future__ import annotations

import re

from ..errors import TextQueryError
from .port import KeywordIndex

# bm25() weights, in column order: title, description, category, attributes.
COLUMN_WEIGHTS = (4.0, 1.0, 2.0, 1.0)
_WORD = re.compile(r"\w+", re.UNICODE)


def match_expression(text: str, *, prefix: bool = True, all_terms: bool = False) -> str:
    """A safe FTS5 MATCH string for free text: each word quoted (no operator injection), with a
    prefix `*` so "yog" finds "yoghurt", joined with OR (BM25 ranks products that match more
    words higher) or AND with `all_terms`."""
    words = _WORD.findall(text or "")
    if not words:
        raise TextQueryError(f"nothing to search for in {text!r}: give at least one word")
    star = "*" if prefix else ""
    return f" {'AND' if all_terms else 'OR'} ".join(f'"{w}"{star}' for w in words[:32])


def keyword_search(
    index: KeywordIndex, text: str, *, limit: int = 100, prefix: bool = True, all_terms: bool = False
) -> list[tuple[str, float]]:
    """(product id, relevance) best first; relevance is -bm25, larger is better, > 0."""
    return index.keyword_matches(match_expression(text, prefix=prefix, all_terms=all_terms), COLUMN_WEIGHTS, limit)
