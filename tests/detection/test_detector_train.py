"""`productlens detector train` on a few real shelf photos (freiburg-boxes, read in place) with a
tiny budget: a 1-epoch detector is far worse than the shipped one, so the never-worse rule refuses
it and --force installs it; `detect` then uses it; kill -9 while it trains leaves the previous
detector; a malformed annotation file names its line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from processes import cli_command

from productlens.cli import cli
from productlens.detection.onnx_detector import OnnxDetector, shipped_path

FREIBURG = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "freiburg-boxes"
PHOTOS = 6  # 5 to train on, 1 held out
TINY = ("--budget", "60s", "--epochs", "1")


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def shop_boxes(tmp_path_factory) -> Path:
    """A boxes.json naming a few freiburg photos by absolute path (never copied)."""
    if not (FREIBURG / "boxes.json").exists():
        pytest.skip("freiburg-boxes is not beside the checkout")
    entries = json.loads((FREIBURG / "boxes.json").read_text())["images"][:PHOTOS]
    for entry in entries:
        entry["file"] = str(FREIBURG / entry["file"])
    path = tmp_path_factory.mktemp("boxes") / "boxes.json"
    path.write_text(json.dumps({"images": entries}, indent=1))
    return path


def test_a_worse_detector_is_refused_and_force_installs_it_for_detect(fast_catalog, shop_boxes, tmp_path):
    own = fast_catalog / "models" / "detector" / "detector.onnx"
    refused = run("--catalog", fast_catalog, "detector", "train", "--boxes", shop_boxes, *TINY, "--json")
    assert refused.exit_code == 0, refused.output
    result = json.loads(refused.stdout)
    assert not result["installed"] and not result["better"]
    assert result["after"]["ap50"] < result["before"]["ap50"]  # the shipped detector knows these shelves
    assert not own.exists()
    assert set(result["seconds"]) >= {"data", "cache_features", "train", "export", "total"}

    forced = run("--catalog", fast_catalog, "detector", "train", "--boxes", shop_boxes, *TINY, "--force")
    assert forced.exit_code == 0, forced.output
    assert "->" in forced.output and "forced" in forced.output
    assert own.is_file()
    record = json.loads(own.with_suffix(".json").read_text())
    assert record["installed"] and record["forced"] and record["trained_on"]["photos"] == PHOTOS - 1
    assert OnnxDetector(own).meta["trained_on"]["boxes"] == str(shop_boxes)

    photo = Path(json.loads(shop_boxes.read_text())["images"][-1]["file"])
    shown = run("--catalog", fast_catalog, "detect", photo, "--json", "--min-score", "0", "--max-objects", "5")
    assert shown.exit_code == 0, shown.output
    boxes = [o["box"] for o in json.loads(shown.stdout)["objects"]]
    image = Image.open(photo).convert("RGB")
    expected = [d.box for d in OnnxDetector(own).detect(image, max_detections=5, min_score=0)]
    shipped = [d.box for d in OnnxDetector(shipped_path()).detect(image, max_detections=5, min_score=0)]
    assert np.allclose(boxes, expected, atol=1.0)
    assert not np.allclose(np.array(boxes).reshape(-1), np.array(shipped).reshape(-1)[: len(np.array(boxes).reshape(-1))], atol=1.0)


def test_kill_9_while_training_keeps_the_previous_detector(fast_catalog, shop_boxes):
    own = fast_catalog / "models" / "detector" / "detector.onnx"
    own.parent.mkdir(parents=True, exist_ok=True)
    own.write_bytes(shipped_path().read_bytes())
    before = own.read_bytes()
    process = subprocess.Popen(cli_command("--catalog", fast_catalog, "detector", "train", "--boxes", shop_boxes, *TINY,
                                           "--force"), stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stderr:  # the stage lines: kill it while the new detector is exported
            if line.startswith("train"):
                os.kill(process.pid, signal.SIGKILL)
                break
    finally:
        process.kill()
        process.wait(30)
    assert process.returncode == -signal.SIGKILL
    assert own.read_bytes() == before
    assert not own.with_suffix(".json").exists()
    OnnxDetector(own)  # still loads


def test_malformed_annotation_file_names_its_line(fast_catalog, tmp_path):
    bad = tmp_path / "boxes.json"
    bad.write_text('{"images": [\n {"file": "a.jpg", "boxes": [[1, 2, 3, 4]]},\n {"file": "b.jpg", "boxes": [[5, 6, 7]]}\n]}\n')
    result = run("--catalog", fast_catalog, "detector", "train", "--boxes", bad)
    assert result.exit_code != 0
    assert "line 3" in result.output and "4 numbers" in result.output
    nothing = run("--catalog", fast_catalog, "detector", "train")
    assert nothing.exit_code != 0 and "--boxes" in nothing.output


def test_composites_of_the_catalogue_photos_alone(fast_catalog):
    from productlens import Catalog

    with Catalog.open(fast_catalog) as catalog:
        result = catalog.detection.train(composites=10, budget_s=60, epochs=1)
    assert result.trained_on["photos"] == 0 and result.trained_on["held_out"] == 2
    assert result.trained_on["composites"] + result.trained_on["held_out"] <= 10
    assert 0 <= result.after["recall50"] <= 1 and 0 <= result.before["recall50"] <= 1
    assert result.installed == result.better
    assert (fast_catalog / "models" / "detector" / "detector.onnx").is_file() == result.installed
