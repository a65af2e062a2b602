"""Scoring a model on held-out events: against sampled unseen items (the SASRec protocol) and
against all items."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .base import Recommender
from .log import InteractionLog
from .metrics import RankingScores, rank_of_first, ranking_scores
from .split import HeldOut

BATCH = 512


@dataclass(frozen=True)
class Evaluation:
    """A model's scores on one set of held-out events."""

    sampled: RankingScores  # the target against `negatives` sampled items the user never touched
    full: RankingScores | None  # the target against every item the user has not seen


def sample_negatives(seen: InteractionLog, users: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` items per user drawn uniformly among those the user never interacted with in `seen`."""
    seen_keys = np.unique(seen.users.astype(np.int64) * seen.n_items + seen.items)
    out = np.empty((len(users), n), np.int64)
    todo = np.arange(len(users))
    filled = np.zeros(len(users), np.int64)
    while len(todo):
        draws = rng.integers(0, seen.n_items, size=(len(todo), n))
        keys = users[todo, None].astype(np.int64) * seen.n_items + draws
        pos = np.clip(np.searchsorted(seen_keys, keys), 0, len(seen_keys) - 1)
        fresh = seen_keys[pos] != keys
        for row, user_row in enumerate(todo):  # few rows: users who have seen most items
            take = draws[row][fresh[row]][: n - filled[user_row]]
            out[user_row, filled[user_row]:filled[user_row] + len(take)] = take
            filled[user_row] += len(take)
        todo = todo[filled[todo] < n]
    return out


def evaluate(model: Recommender, history: InteractionLog, targets: HeldOut, *, everything: InteractionLog,
             negatives: int = 100, k: int = 10, full: bool = True, seed: int = 0,
             max_users: int | None = None) -> Evaluation:
    """Rank each target item given the user's events in `history`.

    `everything` holds every event (test ones too): sampled negatives are items the user never
    touched in it. With `max_users`, a seeded random subset of the targets is scored."""
    rng = np.random.default_rng(seed)
    users, items = targets.users, targets.items
    if max_users is not None and len(users) > max_users:
        pick = np.sort(rng.choice(len(users), max_users, replace=False))
        users, items = users[pick], items[pick]
    histories = history.sequences()
    negs = sample_negatives(everything, users, negatives, rng)
    sampled_ranks, full_ranks = [], []
    for start in range(0, len(users), BATCH):
        u = users[start:start + BATCH]
        h = [histories[x] for x in u]
        target = items[start:start + BATCH, None].astype(np.int64)
        if full:
            scores = model.score(u, h)
            cand = np.take_along_axis(scores, np.concatenate([target, negs[start:start + BATCH]], axis=1), axis=1)
            sampled_ranks.append(rank_of_first(cand, rng))
            full_ranks.append(_full_ranks(scores, h, target[:, 0], rng))
        else:
            cand = np.concatenate([target, negs[start:start + BATCH]], axis=1)
            sampled_ranks.append(rank_of_first(model.score_candidates(u, h, cand), rng))
    sampled = ranking_scores(np.concatenate(sampled_ranks) if sampled_ranks else np.zeros(0), k)
    all_items = ranking_scores(np.concatenate(full_ranks), k) if full and full_ranks else None
    return Evaluation(sampled, all_items)


def _full_ranks(scores: np.ndarray, histories: Sequence[np.ndarray], targets: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """Rank of each target among all items but those already in the history (the target stays)."""
    scores = scores.copy()
    target_scores = scores[np.arange(len(targets)), targets].copy()
    for row, h in enumerate(histories):
        scores[row, h] = -np.inf
    scores[np.arange(len(targets)), targets] = -np.inf
    above = (scores > target_scores[:, None]).sum(axis=1)
    tied = (scores == target_scores[:, None]).sum(axis=1)
    return above + rng.integers(0, tied + 1)
