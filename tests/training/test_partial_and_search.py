"""The partial recipe (the last block trained on cached activations) and the settings search,
on the look-alike catalogue with labelled validation photos."""

from __future__ import annotations

import json

import numpy as np

from productlens import Catalog
from productlens.catalog.ingest import read_source
from productlens.training import TrainConfig


def test_partial_recipe_trains_the_last_stages_and_lowers_validation_loss(look_alike):
    shop, queries = look_alike
    val = list(read_source(queries))
    config = TrainConfig(recipe="partial", epochs=4, views=2, backbone="efficientnet-lite0", crop=0.65, hidden=256,
                         flip_tta=False, cut="mid")
    with Catalog.open(shop) as catalog:
        result = catalog.train(config, val_items=val)
        losses = [h["val_loss"] for h in result.history]
        assert min(losses[1:]) < losses[0]
        assert result.metrics["unfreeze_blocks"] == 5 and result.metrics["cut_after_block"] == 11
        assert result.metrics["validation"] == "photos"
        catalog.versions.activate(result.version, force=True)
        photo = val[0].image
        embedded = catalog.searcher.embed_query(photo)
        assert embedded.shape == (512,) and abs(np.linalg.norm(embedded) - 1) < 1e-4
        assert catalog.recognize(photo).candidates
    cache = shop / "cache"
    assert len(list((cache / "activations").glob("*.f16"))) == 2 and list(cache.glob("*.block10.onnx"))


def test_the_search_tries_each_open_setting_and_records_it(look_alike):
    shop, queries = look_alike
    val = list(read_source(queries))
    with Catalog.open(shop) as catalog:
        result = catalog.train(TrainConfig(epochs=3, views=2, recipe="head"), val_items=val, time_limit_s=600)
        stages = [t.stage for t in result.trials]
        assert stages[:3] == ["crop", "crop", "crop"] and {"backbone", "head", "tta"} <= set(stages)
        scored = [t for t in result.trials if t.score is not None]
        best = max(scored, key=lambda t: t.score)
        assert all(0.0 <= t.score <= 1.0 for t in scored)
        chosen = (result.config.backbone, result.config.crop, result.config.hidden, result.config.flip_tta)
        assert chosen in {(t.setting.backbone, t.setting.crop, t.setting.hidden, t.setting.tta) for t in scored}
        assert best.score - 0.01 <= next(t.score for t in scored if
                                         (t.setting.backbone, t.setting.crop, t.setting.hidden, t.setting.tta) == chosen)
        meta = json.loads((catalog.versions.models_dir / result.version.split("/")[1] / "version.json").read_text())
        assert len(meta["candidates"]) == len(result.trials) and meta["config"]["crop"] == result.config.crop
        # Given settings are not searched; a tiny budget skips what does not fit and says so.
        fixed = catalog.train(TrainConfig(epochs=2, views=4, recipe="head", crop=0.875, hidden=0, flip_tta=False),
                      val_items=val, time_limit_s=1)
        assert [t.stage for t in fixed.trials] == ["crop", "backbone"]
        assert all(t.score is None and "over the time budget" in t.note for t in fixed.trials)
        assert fixed.config.crop == 0.875 and fixed.config.views == 1  # the budget was spent: one view


def test_a_default_run_adapts_the_backbone_at_the_deepest_cut_that_fits(look_alike, monkeypatch):
    from productlens.training import backbone_stage

    monkeypatch.setattr(backbone_stage, "EPOCHS", 2)  # the recipe's length is not what this test is about
    shop, queries = look_alike
    val = list(read_source(queries))
    with Catalog.open(shop) as catalog:
        fixed = TrainConfig(crop=0.875, hidden=0, flip_tta=False, backbone="efficientnet-lite0")
        result = catalog.train(fixed, val_items=val, time_limit_s=None)
        (tried,) = [t for t in result.trials if t.stage == "depth"]  # no limit: the deepest cut, the most views
        assert tried.score is not None and tried.note.startswith("deep cut (8 blocks), 4 views")
        head_score = float(tried.note.rsplit(" ", 1)[1])
        assert result.config.recipe == ("partial" if tried.score > head_score else "head")
        if result.config.recipe == "partial":
            assert result.metrics["cut_after_block"] == 8 and result.config.views == 4
        stages = result.metrics["stage_seconds"]
        assert stages["partial recipe"] > 0 and "settings search" in stages
        # A budget too short for any cut says why it was skipped.
        short = catalog.train(fixed, val_items=val, time_limit_s=1)
        (skipped,) = [t for t in short.trials if t.stage == "depth"]
        assert skipped.score is None and "skipped: the activations alone take about" in skipped.note
        assert short.config.recipe == "head"


def test_a_default_run_gives_the_slow_search_stages_time_to_depth(look_alike, monkeypatch):
    from productlens.training import backbone_stage
    from productlens.training.candidates import LEFT_FOR_DEPTH

    monkeypatch.setattr(backbone_stage, "EPOCHS", 2)
    shop, queries = look_alike
    with Catalog.open(shop) as catalog:
        result = catalog.train(TrainConfig(), val_items=list(read_source(queries)), time_limit_s=3600)
        left = {(t.stage, t.setting.backbone, t.setting.crop, t.setting.tta) for t in result.trials
                if t.note == LEFT_FOR_DEPTH}
        assert {("crop", "efficientnet-lite0", 0.65, False), ("crop", "efficientnet-lite0", 1.0, False),
                ("backbone", "efficientnet-lite2@320", 0.875, False)} <= left
        assert any(stage == "tta" for stage, *_ in left)
        assert {t.setting.hidden for t in result.trials if t.score is not None and t.stage != "depth"} == {1024, 0}
        (depth,) = [t for t in result.trials if t.stage == "depth"]
        assert depth.score is not None and depth.note.startswith("deep cut (8 blocks), 4 views, 2 epochs")
        assert result.config.views <= 4 and not result.metrics.get("refit")  # validated on --val photos: no refit
