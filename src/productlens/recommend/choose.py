"""Choosing a recommender: every candidate is fitted on the log minus each user's last event and
scored on predicting that event (the time-ordered validation split), within one time budget.
Every candidate's score is recorded; the best is refitted on the whole log when time allows,
otherwise it trains on for a little with the held-out events where it can (`catch_up`) and they
are folded in when it is asked."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import RecommenderError
from .base import Recommender, time_left
from .evaluate import evaluate
from .log import InteractionLog
from .metrics import RankingScores
from .registry import create_recommender, list_recommenders, recommender_kind
from .split import hold_out_last

logger = logging.getLogger(__name__)

DEFAULT_BUDGET_S = 600.0
MONITOR_USERS = 3000  # validation users a model checks itself on while training (early stopping)
SELECTION_USERS = 10000  # validation users every candidate is compared on
CATCH_UP_SHARE = 0.08  # of the budget kept back for the winner to learn from the held-out events when a refit won't fit


@dataclass
class Candidate:
    """One model tried: its validation score, or why it has none."""

    name: str
    params: dict[str, Any]
    validation: RankingScores | None = None
    fit_seconds: float = 0.0
    status: str = "ok"  # ok | skipped (budget spent) | failed: <reason>

    def to_dict(self) -> dict[str, Any]:
        scores = self.validation.to_dict() if self.validation else {}
        return {"model": self.name, "status": self.status, "fit_seconds": round(self.fit_seconds, 1), **scores,
                "params": self.params}


@dataclass
class Choice:
    """The chosen, fitted model and every candidate's record."""

    model: Recommender
    name: str
    candidates: list[Candidate] = field(default_factory=list)
    refitted: bool = False
    caught_up: bool = False  # not refitted, but trained on past the fit with the held-out events too
    seconds: float = 0.0
    fitted: dict[str, Recommender] = field(default_factory=dict)  # every candidate's model, when kept

    def to_dict(self) -> dict[str, Any]:
        return {"chosen": self.name, "refitted": self.refitted, "caught_up": self.caught_up,
                "seconds": round(self.seconds, 1), "candidates": [c.to_dict() for c in self.candidates]}


def choose_recommender(log: InteractionLog, *, models: Sequence[str] | None = None, budget_s: float = DEFAULT_BUDGET_S,
                       params: dict[str, dict[str, Any]] | None = None, seed: int = 0,
                       on_candidate: Callable[[Candidate], None] | None = None, keep_all: bool = False) -> Choice:
    """Fit `models` (default: every registered one, cheapest first) and keep the best on validation NDCG@10
    (`keep_all`: every candidate's fitted model too, for side-by-side evaluation)."""
    started = time.monotonic()
    deadline = started + budget_s
    names = list(models) if models else list_recommenders()
    names.sort(key=lambda n: recommender_kind(n).cost)
    train, validation = hold_out_last(log, min_events=2)
    if not len(validation):
        raise RecommenderError("no user has two events: nothing to validate a recommender on")

    def monitor(model: Recommender) -> float:
        return evaluate(model, train, validation, everything=log, full=False, max_users=MONITOR_USERS,
                        seed=seed + 1).sampled.ndcg

    best: tuple[float, Recommender, Candidate] | None = None
    tried: list[Candidate] = []
    fitted: dict[str, Recommender] = {}
    for name in names:
        model = create_recommender(name, seed=seed, **(params or {}).get(name, {}))
        candidate = Candidate(name, model.params)
        tried.append(candidate)
        if time_left(deadline) <= 1 and best is not None:
            candidate.status = "skipped (budget spent)"
            continue
        t0 = time.monotonic()
        try:
            model.fit(train, deadline=deadline - _evaluation_reserve(len(validation)) - CATCH_UP_SHARE * budget_s,
                      monitor=monitor)
        except ImportError as exc:  # implicit comes with the `recommend` extra
            candidate.status = f"failed: {exc.name or exc} is not installed (pip install 'productlens[recommend]')"
            continue
        except (ValueError, RuntimeError, MemoryError) as exc:  # one model failing must not lose the others
            candidate.status = f"failed: {exc}"
            continue
        candidate.fit_seconds = time.monotonic() - t0
        candidate.validation = evaluate(model, train, validation, everything=log, full=False,
                                        max_users=SELECTION_USERS, seed=seed).sampled
        logger.info("candidate %s: %s in %.1fs", name, candidate.validation.to_dict(), candidate.fit_seconds)
        if keep_all:
            fitted[name] = model
        if on_candidate:
            on_candidate(candidate)
        if best is None or candidate.validation.ndcg > best[0]:
            best = (candidate.validation.ndcg, model, candidate)
    if best is None:
        raise RecommenderError("no recommender could be fitted: " + "; ".join(f"{c.name} {c.status}" for c in tried))
    _, model, winner = best
    choice = Choice(model, winner.name, tried, fitted=fitted)
    if winner.fit_seconds * 1.2 < time_left(deadline):
        refit = create_recommender(winner.name, **model.refit_params())
        refit.fit(log, deadline=deadline)
        choice.model, choice.refitted = refit, True
    else:
        choice.caught_up = model.catch_up(log, deadline=deadline)
    choice.seconds = time.monotonic() - started
    return choice


def _evaluation_reserve(validation_users: int) -> float:
    """Seconds kept back from a model's fit for scoring it on the validation users afterwards."""
    return 5.0 + min(validation_users, SELECTION_USERS) / 2000.0
