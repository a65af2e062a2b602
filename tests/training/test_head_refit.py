"""After validating on held-out burst groups, the head recipe trains the version again on every
photo, for the epochs validation chose (the held-out groups are catalogue photos too)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from productlens import Catalog
from productlens.training import TrainConfig
from productlens.training.data import catalogue_samples
from productlens.training.head_recipe import train_head
from productlens.training.split import ValidationPlan

pytestmark = pytest.mark.fast

CONFIG = TrainConfig(backbone="tiny-test", crop=1.0, hidden=0, flip_tta=False, recipe="head", epochs=12, views=1,
                     patience=3).resolved()


def test_held_out_groups_validate_then_every_photo_trains_the_version(fast_catalog):
    with Catalog.open(fast_catalog) as catalog:
        data = catalogue_samples(catalog.training_port, None, CONFIG.val_fraction, CONFIG.seed)
        products = np.array([s.product_id for s in data.samples])
        held = np.array([np.flatnonzero(products == p)[0] for p in np.unique(products)])  # one photo per product
        kept = np.setdiff1d(np.arange(len(products)), held)
        data = replace(data, plan=ValidationPlan("groups", [(kept, held)], products=len(data.classes)))
        said: list[str] = []
        fitted = train_head(catalog.training_port, data, CONFIG, said.append)
    validated = [row for row in fitted.history if "val_score" in row]
    assert validated == fitted.history  # the curves are the validated run's
    best = max(validated, key=lambda row: row["val_score"])["epoch"]
    refit = [line for line in said if "every photo, no validation" in line]
    assert fitted.metrics["epochs_run"] == len(refit) == best
    assert fitted.metrics["train_images"] == len(data.samples) > len(kept)
    assert len(fitted.folds) == 1 and len(fitted.folds[0].val) == len(held)  # the replay stays the fold model's
