"""Adapters that turn public datasets into productlens' CSV ingest format.

The Grocery Store dataset (Klasson et al., WACV 2019) ships classes.csv plus split files
(`path, fine_label, coarse_label`); `grocery_store_rows` maps it to product rows, one per photo.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..errors import IngestError
from .ingest import title_from_name

GROCERY_SPLITS = ("train", "val", "test")
GROCERY_COLUMNS = ["product_id", "image", "title", "category", "description", "group", "fine_id", "coarse_id"]


@dataclass(frozen=True)
class GroceryClass:
    name: str
    fine_id: int
    coarse_name: str
    coarse_id: int
    group: str  # Fruit / Vegetables / Packages
    iconic: Path
    title: str
    description: str


def grocery_classes(root: Path) -> list[GroceryClass]:
    """The 81 products of the Grocery Store dataset with title and description from its files."""
    dataset = Path(root) / "dataset"
    classes_csv = dataset / "classes.csv"
    if not classes_csv.exists():
        raise IngestError(f"{classes_csv} not found: is {root} the grocery-store dataset root?")
    out = []
    with open(classes_csv, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader)
        for name, fine, coarse_name, coarse, iconic, desc in reader:
            iconic_path = dataset / iconic.lstrip("/")
            info_path = iconic_path.parent / f"{name}_Information.txt"
            title = _info_title(info_path) or title_from_name(name)
            desc_path = dataset / desc.lstrip("/")
            description = desc_path.read_text(encoding="utf-8").strip() if desc_path.exists() else ""
            group = Path(iconic.lstrip("/")).parts[1]
            out.append(GroceryClass(name, int(fine), coarse_name, int(coarse), group, iconic_path, title, description))
    return out


def _info_title(path: Path) -> str | None:
    if not path.exists():
        return None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.lower().startswith("title:"):
            return line.split(":", 1)[1].strip() or None
    return None


def grocery_store_rows(root: Path, split: str, *, iconic: bool = False) -> Iterator[tuple[GroceryClass, Path, str]]:
    """(class, image path, kind) for every photo of a split; kind is 'photo' or 'iconic'."""
    if split not in GROCERY_SPLITS:
        raise IngestError(f"unknown split {split!r}; one of {', '.join(GROCERY_SPLITS)}")
    classes = {c.fine_id: c for c in grocery_classes(root)}
    dataset = Path(root) / "dataset"
    with open(dataset / f"{split}.txt", encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            rel, fine, _coarse = (part.strip() for part in line.split(","))
            yield classes[int(fine)], dataset / rel, "photo"
    if iconic:
        for cls in classes.values():
            yield cls, cls.iconic, "iconic"


def write_grocery_csv(root: Path, split: str, out: Path, *, iconic: bool = False) -> int:
    """Write a productlens ingest CSV for a Grocery split (image paths relative to `out`)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(GROCERY_COLUMNS)
        for cls, image, _kind in grocery_store_rows(root, split, iconic=iconic):
            rel = os.path.relpath(image.resolve(), out.parent.resolve())
            writer.writerow([cls.name, rel, cls.title, cls.coarse_name, cls.description, cls.group, cls.fine_id, cls.coarse_id])
            count += 1
    return count
