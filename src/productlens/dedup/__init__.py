"""Duplicate listings: near-identical images and products that are probably the same.

    finder.py     pairs from image nearest neighbours (+ identical bytes) and text similarity,
                  clustered with union-find
    thresholds.py thresholds chosen on labelled pairs (synthetic copies or a labelled CSV),
                  with precision / recall at the chosen threshold
    review.py     a self-contained HTML page showing each cluster's images side by side
"""

from .finder import Cluster, DuplicateReport, DuplicateThresholds, find_duplicates, store_thresholds
from .port import DuplicateSource, ReviewSource
from .review import render_review
from .thresholds import choose_threshold, fit_thresholds_on_copies

__all__ = ["Cluster", "DuplicateReport", "DuplicateSource", "DuplicateThresholds", "ReviewSource", "choose_threshold",
           "find_duplicates", "fit_thresholds_on_copies", "render_review", "store_thresholds"]
