"""A request past its time budget stops filtering within a few products (issue 23, F1: it went on
for 2,048 products between two looks at the clock, minutes of CPU with costly tests)."""

from __future__ import annotations

import time

import pytest

from productlens.budget import time_budget
from productlens.catalog.store import Product
from productlens.engine.products import ProductView
from productlens.errors import TimeBudgetError

pytestmark = pytest.mark.fast


class SlowFilter:
    """A filter whose test costs 5 ms a product, counting the tests made after the deadline."""

    def __init__(self, deadline_s: float) -> None:
        self.deadline = time.monotonic() + deadline_s
        self.late = 0

    def fields(self) -> set[str]:
        return {"title"}

    def matches(self, product: dict) -> bool:
        time.sleep(0.005)
        self.late += time.monotonic() > self.deadline
        return True


def test_filtering_stops_soon_after_the_budget_is_spent():
    view = ProductView(1, [Product(f"p{i}", f"Product {i}") for i in range(5_000)])
    slow = SlowFilter(0.1)
    with time_budget(0.1), pytest.raises(TimeBudgetError, match="filtering products"):
        view.matching(slow)
    assert slow.late <= 20  # at most one stretch between two looks at the clock
