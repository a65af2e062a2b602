"""Manifests of synthetic product photos (tiny network) for the distributed embedding tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_ref(tiny_model):
    """The tiny network as the ModelRef a runner ships to its workers (they load the ONNX file)."""
    from productlens.jobs import ModelRef
    from productlens.models import create_embedder

    return ModelRef.of(create_embedder(tiny_model))


@pytest.fixture(scope="session")
def job_photos(tmp_path_factory) -> Path:
    """36 synthetic photos: four products, nine each."""
    from tiny import write_photos

    return write_photos(tmp_path_factory.mktemp("many-photos"), per_product=9)


@pytest.fixture(scope="session")
def photo_manifest(tmp_path_factory, job_photos, bad_files) -> Path:
    """A CSV manifest: the 36 photos (relative paths), two bad files and a missing one."""
    root = tmp_path_factory.mktemp("manifest")
    rows = ["product_id,image"]
    rows += [f"{p.parent.name},{os.path.relpath(p, root)}" for p in sorted(job_photos.rglob("*.jpg"))]
    rows += [f"broken,{bad_files['truncated.jpg']}", f"broken,{bad_files['notes.jpg']}", "broken,nowhere.jpg"]
    path = root / "manifest.csv"
    path.write_text("\n".join(rows) + "\n")
    return path
