"""Hit rate and NDCG at k from the rank of each held-out item (pure functions, 0 = ranked first)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RankingScores:
    """HR@k and NDCG@k over the users evaluated."""

    hr: float
    ndcg: float
    users: int
    k: int = 10

    def to_dict(self) -> dict[str, float | int]:
        return {f"hr@{self.k}": round(self.hr, 4), f"ndcg@{self.k}": round(self.ndcg, 4), "users": self.users}


def ranking_scores(ranks: np.ndarray, k: int = 10) -> RankingScores:
    """HR@k: share of ranks below k; NDCG@k: mean of 1/log2(rank + 2) over those (one relevant item)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    if len(ranks) == 0:
        return RankingScores(0.0, 0.0, 0, k)
    hit = ranks < k
    gains = np.where(hit, 1.0 / np.log2(ranks + 2.0), 0.0)
    return RankingScores(float(hit.mean()), float(gains.mean()), len(ranks), k)


def rank_of_first(scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per row, the rank of column 0 among the row's columns, ties broken at random."""
    target = scores[:, :1]
    above = (scores[:, 1:] > target).sum(axis=1)
    tied = (scores[:, 1:] == target).sum(axis=1)
    return above + rng.integers(0, tied + 1)
