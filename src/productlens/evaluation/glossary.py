"""What the report's numbers and method names mean, in words a store manager reads.

One place for the wording, so the headline table, the plots and their legends say the same.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricInfo:
    label: str  # short name, used in tables and on plot axes
    meaning: str  # one line: what a value of 0.80 says about the photos


METRICS: dict[str, MetricInfo] = {
    "fine_top1": MetricInfo("Product top-1", "share of photos whose product is named first"),
    "fine_top5": MetricInfo("Product top-5", "share of photos whose product is among the first five suggestions"),
    "coarse_top1": MetricInfo("Category top-1", "share of photos whose category (e.g. Milk) is named first"),
    "coarse_top5": MetricInfo("Category top-5", "share of photos whose category is among the first five"),
    "R@1": MetricInfo("Search R@1", "share of searches whose first image shows the right product"),
    "R@5": MetricInfo("Search R@5", "share of searches with the right product in the first five images"),
    "R@10": MetricInfo("Search R@10", "share of searches with the right product in the first ten images"),
    "mAP": MetricInfo("Search mAP", "how high all images of the right product rank (1 = all of them first)"),
    "mAP@R": MetricInfo("Search mAP@R", "mAP over the first R images only, R = the product's image count (stricter)"),
    "iconic_top1": MetricInfo("Catalogue-shot top-1",
                              "product named first when matching against the catalogue's product shots only"),
    "iconic_top5": MetricInfo("Catalogue-shot top-5", "the same, right product among the first five"),
}

# The few numbers a reader needs first; the rest sit in "all metrics".
HEADLINE = ("fine_top1", "coarse_top1", "R@1", "mAP", "iconic_top1")

BASELINE_LABELS = {
    "off-the-shelf": "Off-the-shelf",
    "colour-histogram": "Colour histogram",
    "small-cnn (scratch)": "Small CNN from scratch",
}

BASELINE_MEANINGS = {
    "off-the-shelf": "the pretrained network's features, no training on this catalogue",
    "colour-histogram": "matches photos by their colours only (a floor any model must beat)",
    "small-cnn (scratch)": "a small network trained from zero on the catalogue's images",
}

ACTIVE_PREFIX = "active: "
VERSION_PREFIX = "version: "  # a version evaluated with `eval --model`, not active; evaluate() puts it first
UNTRAINED_VERSION = "imagenet"  # the version name of a backbone as it ships (models/registry.py)


def method_label(name: str, first: str | None = None) -> str:
    """'active: ft-2024-05-01' -> 'This version (ft-2024-05-01)'; baselines get their plain names.

    first: the method the report is about (the first one). "This version" is always that one: with
    `eval --model v2`, 'version: v2' is "This version (v2)" and the active model "Active model (...)".
    """
    for prefix in (VERSION_PREFIX, ACTIVE_PREFIX):
        if name.startswith(prefix):
            this = first is None or first == name
            return f"{'This version' if this else 'Active model'} ({name[len(prefix):]})"
    return BASELINE_LABELS.get(name, name)


def method_meaning(name: str) -> str:
    if name.startswith(VERSION_PREFIX):
        return "the version evaluated here, not active: the catalogue does not search with it yet"
    if name.startswith(ACTIVE_PREFIX):
        return "the model the catalogue searches with now"
    return BASELINE_MEANINGS.get(name, "")
