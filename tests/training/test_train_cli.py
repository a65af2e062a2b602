"""The CLI end to end on the look-alike catalogue: train, models, models use, eval --report;
and the `full` recipe (backbone fine-tuning) for one short epoch."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner

from productlens import Catalog
from productlens.cli.main import cli
from productlens.training import TrainConfig


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_train_models_use_eval(look_alike, tmp_path):
    shop, queries = look_alike
    out = json.loads(run("--catalog", str(shop), "-q", "train", "--epochs", "3", "--views", "2",
                         "--optimizer", "sgd", "--lr", "0.05", "--json"))
    version = out["version"].split("/")[1]
    assert out["metrics"]["epochs_run"] <= 3
    listed = json.loads(run("--catalog", str(shop), "models", "--json"))
    assert [r["active"] for r in listed] == [True, False]
    assert out["comparison"]["against"] == "efficientnet-lite0/imagenet/fp32"
    refused = CliRunner().invoke(cli, ["--catalog", str(shop), "models", "use", version])
    if out["comparison"]["verdict"] != "better":  # three SGD epochs: not shown better, so not activated
        assert refused.exit_code == 1 and "was not activated" in refused.output and "--force" in refused.output
        assert json.loads(run("--catalog", str(shop), "models", "--json"))[0]["active"]
    used = json.loads(run("--catalog", str(shop), "models", "use", version, "--force", "--json"))
    assert used["switched"] or refused.exit_code == 0
    assert json.loads(run("--catalog", str(shop), "models", "--json"))[1]["active"]
    report = tmp_path / "report"
    metrics = json.loads(run("--catalog", str(shop), "eval", "--queries", str(queries), "--report", str(report),
                             "--baselines", "colour-histogram", "--json"))
    assert set(metrics["methods"]) == {f"active: {version}", "colour-histogram"}
    page = (report / "report.html").read_text()
    for png in report.glob("*.png"):
        assert f'src="{png.name}"' in page
    assert "training_curves.png" in page  # the active version's curves are part of the report
    bad = CliRunner().invoke(cli, ["--catalog", str(shop), "models", "use", "ft-missing"])
    assert bad.exit_code == 1 and "ft-missing" in bad.output and "TrainingError" not in bad.output


def test_full_recipe_fine_tunes_backbone(look_alike):
    shop, _ = look_alike
    with Catalog.open(shop) as catalog:
        result = catalog.train(TrainConfig(recipe="full", epochs=2, max_images=16, batch_size=8, unfreeze_blocks=1,
                                            lr=1e-3))
    assert result.metrics["device"] in ("cpu", "cuda")
    assert len(result.history) == 2 and all(h["train_loss"] > 0 for h in result.history)
    assert result.history[1]["train_loss"] < result.history[0]["train_loss"]
    assert re.fullmatch(r"efficientnet-lite0/ft-[0-9-]+/fp32", result.version)


def test_train_on_another_backbone_and_crop_size(look_alike):
    """--backbone NAME@SIZE --crop F --tta: the version and its re-embedding use that network, size, crop and TTA."""
    shop, queries = look_alike
    out = json.loads(run("--catalog", str(shop), "-q", "train", "--backbone", "efficientnet-lite0@192",
                         "--crop", "0.8", "--tta", "--epochs", "2", "--views", "1", "--use", "--force", "--json"))
    assert out["version"].startswith("efficientnet-lite0@192/ft-")
    assert out["activation"]["switched"] and out["activation"]["embedded"] == 80
    with Catalog.open(shop) as catalog:
        record = catalog.versions.active
        assert record.preprocess["input_size"] == 192 and record.preprocess["resize_size"] == 240
        assert record.preprocess["flip_tta"] is True and catalog.embedder().preprocess.flip_tta
        photo = next(line.split(",")[1] for line in queries.read_text().splitlines()[1:])
        assert catalog.searcher.embed_query(photo).shape == (record.dim,)
    bad = CliRunner().invoke(cli, ["--catalog", str(shop), "train", "--backbone", "resnet@300"])
    assert bad.exit_code == 1 and "NAME@SIZE" in bad.output
