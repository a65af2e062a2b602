"""Recommendations from what shoppers do: an interaction log, the leave-last-out split and its
metrics, a registry of models (popularity, item-kNN, ALS, BPR, SASRec) and budgeted model choice.

A feature package: it never imports the engine, the CLI, the API or the catalogue store.
"""

from . import factorization, item_knn, popularity, sasrec  # noqa: F401  (each registers its model)
from .base import Recommender
from .evaluate import Evaluation, evaluate
from .log import InteractionLog
from .metrics import RankingScores, ranking_scores
from .registry import create_recommender, list_recommenders, recommender_kind, register_recommender
from .split import HeldOut, Split, hold_out_last, leave_last_out

__all__ = [
    "Evaluation", "HeldOut", "InteractionLog", "RankingScores", "Recommender", "Split", "create_recommender",
    "evaluate", "hold_out_last", "leave_last_out", "list_recommenders", "ranking_scores", "recommender_kind",
    "register_recommender",
]
