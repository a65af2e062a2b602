"""The recommender models, by name: `register_recommender` adds one, everything else looks them
up here (like the index kinds and timm's model registry)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import RecommenderError
from .base import Recommender

Create = Callable[..., Recommender]


@dataclass(frozen=True)
class RecommenderKind:
    """A registered model: how to make one and what it is."""

    name: str
    create: Create
    description: str = ""
    sequential: bool = False  # uses the order of a user's events
    cost: int = 0  # relative fit cost: selection fits cheap models first, the costly last


_KINDS: dict[str, RecommenderKind] = {}


def register_recommender(name: str, create: Create, *, description: str = "", sequential: bool = False,
                         cost: int = 0) -> RecommenderKind:
    """Register a model under `name`; returns its entry."""
    entry = RecommenderKind(name, create, description, sequential, cost)
    _KINDS[name] = entry
    return entry


def list_recommenders() -> list[str]:
    """Registered model names, cheapest to fit first."""
    return [k.name for k in sorted(_KINDS.values(), key=lambda k: (k.cost, k.name))]


def recommender_kind(name: str) -> RecommenderKind:
    """The entry of `name`; RecommenderError lists the choices."""
    if name not in _KINDS:
        raise RecommenderError(f"unknown recommender {name!r}; choose from {', '.join(list_recommenders())}")
    return _KINDS[name]


def create_recommender(name: str, **params: Any) -> Recommender:
    """A new unfitted model of kind `name` with its default parameters overridden by `params`."""
    return recommender_kind(name).create(**params)
