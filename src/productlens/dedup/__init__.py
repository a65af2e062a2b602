"""Duplicate listings: near-identical images and products that are probably the same.

    finder.py     pairs from image nearest neighbours (+ identical bytes) and text similarity,
                  clustered with union-find
    calibrate.py  thresholds chosen on labelled pairs (synthetic copies or a labelled CSV),
                  with precision / recall at the chosen threshold
    review.py     a self-contained HTML page showing each cluster's images side by side
"""

from .calibrate import calibrate_on_copies, choose_threshold
from .finder import Cluster, DedupCalibration, DuplicateReport, DuplicateSource, find_duplicates, store_calibration
from .review import render_review

__all__ = ["Cluster", "DedupCalibration", "DuplicateReport", "DuplicateSource", "calibrate_on_copies", "choose_threshold",
           "find_duplicates", "render_review", "store_calibration"]
