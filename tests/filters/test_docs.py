"""docs/filters.md cannot drift: its example catalogue goes through ingest, and every row of its
examples table is evaluated against it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from productlens.catalog.ingest import read_source
from productlens.filters import parse_filter

DOC = Path(__file__).resolve().parents[2] / "docs" / "filters.md"
TEXT = DOC.read_text(encoding="utf-8")
EXAMPLES = re.findall(r"^\| `(.+)` \| ([A-Z0-9, ]+|none) \|$", TEXT, flags=re.MULTILINE)


def _block(language: str) -> str:
    match = re.search(rf"```{language}\n(.*?)```", TEXT, flags=re.DOTALL)
    assert match, f"docs/filters.md has no {language} block"
    return match.group(1)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory) -> list[dict]:
    """The doc's CSV and JSONL read as `add` reads them: CSV values arrive as text."""
    root = tmp_path_factory.mktemp("doc")
    (root / "products.csv").write_text(_block("csv"), encoding="utf-8")
    (root / "more.jsonl").write_text(_block("jsonl"), encoding="utf-8")
    items = [*read_source(root / "products.csv"), *read_source(root / "more.jsonl")]
    return [item.product.to_dict() for item in items]


def test_the_doc_has_its_examples() -> None:
    assert len(EXAMPLES) >= 30


@pytest.mark.parametrize(("where", "expected"), EXAMPLES)
def test_each_documented_example_matches_what_the_doc_says(catalogue, where: str, expected: str) -> None:
    flt = parse_filter(where)
    matched = [p["id"] for p in catalogue if flt.matches(p)]
    assert (", ".join(matched) or "none") == expected
