"""Duplicate listings: near-identical images and products that are probably the same.

    finder.py     pairs from image nearest neighbours (+ identical bytes) and text similarity,
                  clustered with union-find
    calibrate.py  thresholds chosen on labelled pairs (synthetic copies or a labelled CSV),
                  with precision / recall at the chosen threshold
    review.py     a self-contained HTML page showing each cluster's images side by side
"""

from .calibrate import DedupCalibration, calibrate_on_copies, choose_threshold
from .finder import Cluster, DuplicateReport, find_duplicates

__all__ = ["Cluster", "DedupCalibration", "DuplicateReport", "calibrate_on_copies", "choose_threshold", "find_duplicates"]
