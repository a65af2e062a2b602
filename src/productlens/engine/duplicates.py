"""Duplicates in a catalogue (`Duplicates`, `Catalog.dedup`): clusters of near-identical images and
probably-identical products (dedup/finder.py), the thresholds fitted on synthetic copies
(dedup/thresholds.py), and the HTML page to review them."""

from __future__ import annotations

from ..dedup import DuplicateThresholds, DuplicateReport, fit_thresholds_on_copies, find_duplicates, render_review, store_thresholds
from .ports import DuplicatesAdapter


class Duplicates:
    """Finding duplicates and fitting their thresholds, for the active model version."""

    def __init__(self, port: DuplicatesAdapter) -> None:
        self.port = port

    def find(self, *, image_threshold: float | None = None, product_threshold: float | None = None,
             use_text: bool = True) -> DuplicateReport:
        return find_duplicates(self.port, image_threshold=image_threshold, product_threshold=product_threshold,
                               use_text=use_text)

    def fit_thresholds(self, *, n: int = 200, seed: int = 0, use_text: bool = True) -> DuplicateThresholds:
        """Choose and store the duplicate thresholds on `n` synthetic copies (dedup/thresholds.py)."""
        fitted = fit_thresholds_on_copies(self.port, n=n, seed=seed, use_text=use_text)
        store_thresholds(self.port, fitted)
        return fitted

    def review_page(self, report: DuplicateReport) -> str:
        """The HTML page to review a report's clusters (dedup/review.py)."""
        return render_review(self.port, report)
