"""Detect-then-search through the engine, the CLI and the REST API on the fast tier (tiny
embedding network, the real shipped detector): the JSON shapes, the whole-frame fallback, bad
photos, and a damaged detector file that leaves whole-photo search working."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from productlens import Catalog
from productlens.cli import cli
from productlens.detection import create_detector
from productlens.detection.composites import compose
from productlens.errors import DetectorError
from objects_support import check_object, tiny_shelf
from tiny import PRODUCTS, product_photo

pytestmark = pytest.mark.fast


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def shelf(tmp_path_factory):
    return tiny_shelf(tmp_path_factory.mktemp("shelf"))


def test_cli_detect_and_search_objects_json(fast_catalog, shelf):
    detected = run("--catalog", fast_catalog, "detect", shelf, "--json", "--min-score", "0")
    assert detected.exit_code == 0, detected.output
    boxes = json.loads(detected.output)["objects"]
    assert boxes and all(len(b["box"]) == 4 and 0 <= b["score"] <= 1 for b in boxes)
    assert [b["score"] for b in boxes] == sorted((b["score"] for b in boxes), reverse=True)
    found = run("--catalog", fast_catalog, "search", shelf, "--objects", "-k", "2", "--json")
    assert found.exit_code == 0, found.output
    objects = json.loads(found.output)["objects"]
    assert objects
    for obj in objects:
        check_object(obj, 360, 270, 2)
    rows = run("--catalog", fast_catalog, "search", shelf, "--objects", "-k", "2", "--format", "csv").output.splitlines()
    assert rows[0].startswith("query,object,x0,y0,x1,y1,score,rank,id") and len(rows) == 1 + sum(len(o["results"]) for o in objects)
    table = run("--catalog", fast_catalog, "search", shelf, "--objects", "-k", "2")
    assert table.exit_code == 0 and "object 1" in table.output
    refused = run("--catalog", fast_catalog, "search", "--text", "milk", "--objects")
    assert refused.exit_code != 0 and "--objects" in refused.output


def test_nothing_detected_searches_the_whole_frame_and_odd_sizes_work(fast_catalog, tmp_path):
    blank = tmp_path / "blank.png"
    Image.new("RGB", (300, 200), (128, 128, 128)).save(blank)
    tiny = tmp_path / "tiny.png"
    product_photo("red-blue", 5, size=(12, 12)).save(tiny)
    huge = tmp_path / "huge.jpg"
    product_photo("green-yellow", 6, size=(4000, 3000)).save(huge, quality=80)
    with Catalog.open(fast_catalog) as shop:
        assert shop.detect(blank) == []
        (whole,) = shop.search_objects(blank, k=3)
        assert whole.whole_frame and whole.box == (0, 0, 300, 200) and whole.score == 0 and len(whole.hits) == 3
        assert whole.recognition.candidates  # recognise ran on the same vector
        (small,) = shop.search_objects(tiny, k=1)
        assert small.whole_frame and small.box == (0, 0, 12, 12)
        for obj in shop.search_objects(huge, k=1):
            assert 0 <= obj.box[0] < obj.box[2] <= 4000 and 0 <= obj.box[1] < obj.box[3] <= 3000
            assert obj.hits[0].product.id == "green-yellow"


def test_damaged_or_missing_detector_file_is_a_clear_error_and_search_still_works(fast_catalog, fast_queries, tmp_path):
    with pytest.raises(DetectorError, match="missing"):
        create_detector(path=tmp_path / "gone.onnx")
    own = fast_catalog / "models" / "detector" / "detector.onnx"
    own.parent.mkdir(parents=True)
    own.write_bytes(b"\x08\x01garbage, not an ONNX graph")
    with Catalog.open(fast_catalog) as shop:
        with pytest.raises(DetectorError, match="corrupt"):
            shop.detect(fast_queries["red-blue"])
        assert shop.search(fast_queries["red-blue"], k=1)[0].product.id == "red-blue"
    failed = run("--catalog", fast_catalog, "search", fast_queries["red-blue"], "--objects")
    assert failed.exit_code == 1 and "corrupt" in failed.output and len(failed.output.strip().splitlines()) == 1
    assert run("--catalog", fast_catalog, "search", fast_queries["red-blue"], "--json").exit_code == 0


def test_eval_detector_scores_named_boxes_and_writes_pictures(fast_catalog, tmp_path):
    products = list(PRODUCTS)
    pictures = [product_photo(p, 700 + n, size=(90, 120)) for n, p in enumerate(products)]
    rng = np.random.default_rng(8)
    entries = []
    for n in range(4):
        made = compose(pictures, rng, size=(360, 270), max_products=4)
        made.image.save(tmp_path / f"s{n}.jpg", quality=95)
        entries.append({"file": f"s{n}.jpg", "boxes": [{"box": list(b), "product": products[s]}
                                                        for b, s in zip(made.boxes, made.sources)]})
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"images": entries}))
    report = tmp_path / "report"
    result = run("--catalog", fast_catalog, "eval-detector", "--boxes", boxes, "--report", report, "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["photos"] == 4 and figures["true_boxes"] == figures["product_boxes"] == sum(len(e["boxes"]) for e in entries)
    assert 0 <= figures["recall50"] <= 1 and 0 <= figures["ap50"] <= 1 and 0 <= figures["top1"] <= figures["recall50"]
    assert 0 <= figures["true_box_top1"] <= 1
    assert (report / "report.json").exists() and (report / "best-1.jpg").exists() and (report / "worst-1.jpg").exists()
    table = run("--catalog", fast_catalog, "eval-detector", "--boxes", boxes)
    assert "box recall @ IoU 0.5" in table.output and "per-box top-1" in table.output and "with the true boxes" in table.output
    broken = tmp_path / "broken.json"
    broken.write_text('{"images": [\n {"file": "s0.jpg", "boxes": [[1, 2, 3]]}\n]}')
    failed = run("--catalog", fast_catalog, "eval-detector", "--boxes", broken)
    assert failed.exit_code == 1 and "broken.json, line 2" in failed.output and len(failed.output.strip().splitlines()) == 1
