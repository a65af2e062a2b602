"""Training end to end on the fast tier (the tiny network, synthetic photos): honest validation,
never-worse activation, products added after training, one score scale, eval --model."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from tiny import product_photo, write_photos

from productlens import Catalog
from productlens.catalog.store import Product
from productlens.cli.main import cli

pytestmark = pytest.mark.fast

SETTINGS = ["--backbone", "tiny-test", "--crop", "1", "--hidden", "0", "--no-tta", "--epochs", "3", "--views", "1"]


def run(*args) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def held_out_csv(tmp_path) -> str:
    photos = write_photos(tmp_path / "val", first_seed=300)
    lines = ["product_id,image"] + [f"{p.parent.name},{p}" for p in sorted(photos.glob("*/*.jpg"))]
    (tmp_path / "val.csv").write_text("\n".join(lines) + "\n")
    return str(tmp_path / "val.csv")


def test_without_honest_validation_a_version_is_not_activated(fast_catalog):
    """Each product's three photos are one burst: nothing can be held out, train says so, and
    --use does not activate what nothing shows to be better."""
    out = json.loads(run("--catalog", fast_catalog, "train", *SETTINGS, "--use", "--json"))
    assert out["metrics"]["validation"] == "none"
    assert any("near-copies" in note for note in out["notes"])
    assert out["comparison"]["verdict"] == "unvalidated"
    assert out["activation"]["switched"] is False and "--force" in out["activation"]["reason"]
    with Catalog.open(fast_catalog) as shop:
        assert shop.versions.active.version == "imagenet"


def test_saturated_validation_warns_and_force_activates(fast_catalog, tmp_path):
    val = held_out_csv(tmp_path)
    out = json.loads(run("--catalog", fast_catalog, "train", *SETTINGS, "--val", val, "--use", "--json"))
    version = out["version"].split("/")[1]
    assert out["metrics"]["validation"] == "photos" and out["metrics"]["val_images"] == 12
    assert out["comparison"]["verdict"] == "saturated" and out["comparison"]["photos"] == 12
    assert any("saturated" in note for note in out["notes"])
    assert out["activation"]["switched"] is False
    refused = CliRunner().invoke(cli, ["--catalog", str(fast_catalog), "models", "use", version])
    assert refused.exit_code == 1 and "cannot tell the two apart" in refused.output
    used = json.loads(run("--catalog", fast_catalog, "models", "use", version, "--force", "--json"))
    assert used["switched"] and {r["name"] for r in used["recalibrated"]} >= {"recognition", "text-bridge"}
    rolled = CliRunner().invoke(cli, ["--catalog", str(fast_catalog), "models", "use", "imagenet"])
    assert rolled.exit_code == 1  # compared again on the version's validation photos: no better


def test_a_product_added_after_training_is_recognised(fast_catalog, tmp_path):
    val = held_out_csv(tmp_path)
    out = json.loads(run("--catalog", fast_catalog, "train", *SETTINGS, "--val", val, "--use", "--force", "--json"))
    assert out["activation"]["switched"]
    late = tmp_path / "late.jpg"
    with Catalog.open(fast_catalog) as shop:
        shop.remove(["purple-orange"])  # trained, then gone: never predicted again
        shop.upsert_product(Product("late", "Added after training", "Fruit"))
        for seed in range(3):
            shop.add_image("late", product_photo("purple-orange", 7000 + seed))
        product_photo("purple-orange", 7100).save(late)
        result = shop.recognize(late, k=3)
        assert result.known and result.product.id == "late"
        assert "purple-orange" not in {c.product.id for c in result.candidates}
        searched = shop.search(late, k=1)[0]
        assert searched.product.id == "late" and result.score == pytest.approx(searched.score)


def test_one_score_scale_in_recognize_and_info(fast_catalog, fast_queries, tmp_path):
    val = held_out_csv(tmp_path)
    run("--catalog", fast_catalog, "calibrate", "--photos", val)
    info = json.loads(run("--catalog", fast_catalog, "info", "--json"))
    cli_result = json.loads(run("--catalog", fast_catalog, "recognize", fast_queries["red-blue"], "--json"))
    with Catalog.open(fast_catalog) as shop:
        api_result = shop.recognize(fast_queries["red-blue"]).to_dict()
        threshold = shop.recognition.calibration.threshold
    assert info["recognition"]["threshold"] == pytest.approx(threshold) == pytest.approx(cli_result["threshold"])
    assert cli_result["confidence"] == pytest.approx(api_result["confidence"])
    assert cli_result["calibration"] == info["recognition"]["source"] == "12 labelled photos"
    names = {(c["name"], c["active"]) for c in info["calibrations"]}
    assert ("recognition", True) in names and ("burst", True) not in names  # calibrate --photos needs no groups


def test_eval_model_leaves_the_active_version_alone(fast_catalog, tmp_path):
    val = held_out_csv(tmp_path)
    out = json.loads(run("--catalog", fast_catalog, "train", *SETTINGS, "--val", val, "--json"))
    version = out["version"].split("/")[1]
    metrics = json.loads(run("--catalog", fast_catalog, "eval", "--queries", val, "--model", version,
                             "--baselines", "", "--json"))
    assert set(metrics["methods"]) == {f"version: {version}", "active: imagenet"}
    assert metrics["model"] == out["version"] and metrics["active_model"] == "tiny-test/imagenet/fp32"
    with Catalog.open(fast_catalog) as shop:
        assert shop.versions.active.version == "imagenet"
        assert len(shop.store.embedding_ids(out["version"])) == 12  # embedded to be measured, kept for later
