"""What this package needs from a catalogue (its port): the interactions and the product ids.
The engine adapts the catalogue to it; this package never sees the store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .log import InteractionLog

# (user id, product id, weight, timestamp, basket id), ordered by user then time
InteractionRow = tuple[str, str, float, float, str]


class InteractionSource(Protocol):
    def interaction_rows(self) -> Sequence[InteractionRow]:
        """Every interaction, ordered by user then time."""
        ...

    def product_ids(self) -> Sequence[str]:
        """Every product that may be recommended (the item vocabulary, interacted with or not)."""
        ...


def log_from_source(source: InteractionSource) -> InteractionLog:
    """The source's interactions as an InteractionLog over all its products."""
    rows, products = source.interaction_rows(), list(source.product_ids())
    if not rows:
        return InteractionLog.from_events([], [], item_ids=products)
    users, items, weights, stamps, baskets = zip(*rows)
    return InteractionLog.from_events(users, items, weights=weights, timestamps=stamps, baskets=baskets,
                                      item_ids=products)
