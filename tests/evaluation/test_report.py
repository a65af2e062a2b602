"""The evaluation report: made by a real `eval --report`, plots whose text fits, numbers a person
can read (a headline table, mixed-up pairs, a failure gallery) and the raw JSON only linked."""

from __future__ import annotations

import csv
import html
import json
import re
from pathlib import Path

import numpy as np
from PIL import Image

from productlens import Catalog
from productlens.catalog.ingest import read_source
from productlens.evaluation.evaluate import EvalResult, evaluate
from productlens.evaluation.plots import read_fit
from productlens.evaluation.report import confused_pairs, find_failures, write_report

PLOTS = {"methods.png", "recall_vs_k.png", "per_product.png", "confusion_fine.png", "confusion_coarse.png"}


def _page(report: Path) -> str:
    return (report / "report.html").read_text(encoding="utf-8")


def _visible_text(page: str) -> str:
    body = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def test_cli_report_writes_every_plot_for_screens_and_phones(cli_report):
    report, _ = cli_report
    pngs = {p.relative_to(report).as_posix() for p in report.rglob("*.png")}
    assert pngs == PLOTS | {f"phone/{name}" for name in PLOTS}
    page = _page(report)
    for name in PLOTS:
        wide = re.search(rf'<img src="{name}" width="(\d+)" height="(\d+)"', page)
        phone = re.search(rf'srcset="phone/{name}" width="(\d+)" height="(\d+)"', page)
        assert wide and phone, name
        # each PNG is drawn at twice the CSS size the page shows it at, the scale its text was measured for
        for path, match in ((report / name, wide), (report / "phone" / name, phone)):
            with Image.open(path) as im:
                assert im.size == (2 * int(match[1]), 2 * int(match[2])), path
    assert max(int(m) for m in re.findall(r'srcset="phone/[^"]+" width="(\d+)"', page)) <= 370  # fits a phone


def test_every_plot_text_fits_inside_and_reads(cli_report):
    report, _ = cli_report
    for png in report.rglob("*.png"):
        fit = read_fit(png)
        assert fit is not None, f"{png} has no text-fit record"
        assert fit.texts >= 8, (png, fit)
        assert fit.outside == [] and fit.overlaps == [] and fit.legends_on_data == [], (png, fit)
        assert fit.min_font_px >= 11, (png, fit)


def test_raw_json_is_linked_never_pasted(cli_report):
    report, metrics = cli_report
    page = _page(report)
    assert 'href="metrics.json"' in page and "<pre" not in page
    assert json.loads((report / "metrics.json").read_text())["methods"] == json.loads(json.dumps(metrics["methods"]))
    text = _visible_text(page)
    decoder = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch in "{[":
            try:
                value, _ = decoder.raw_decode(text, i)
            except ValueError:
                continue
            assert not (isinstance(value, (dict, list)) and len(value) > 1), text[i: i + 80]
    for key in ("recall_curve", "queries_skipped", "per_product_accuracy", "latency_ms", "fine_top1"):
        assert key not in text


def test_headline_table_compares_methods_with_meanings(cli_report):
    report, metrics = cli_report
    page = _page(report)
    table = re.search(r'<table class="scores".*?</table>', page, re.S)[0]
    header = re.findall(r'<th scope="col">([^<]*)</th>', table)
    assert header == ["Number", "This version (imagenet)", "Off-the-shelf", "Colour histogram", "Small CNN from scratch"]
    rows = re.findall(r'<th scope="row">([^<]+)<span class="meaning">([^<]+)</span></th>(.*?)</tr>', table, re.S)
    assert [label for label, _, _ in rows] == ["Product top-1", "Category top-1", "Search R@1", "Search mAP"]
    methods = list(metrics["methods"].values())
    for (label, meaning, cells), key in zip(rows, ("fine_top1", "coarse_top1", "R@1", "mAP")):
        assert len(meaning) > 20
        values = re.findall(r"<td(?: class=best)?>([^<]+)</td>", cells)
        assert values == [f"{m[key]:.2f}" for m in methods], label
        best = {f"{m[key]:.2f}" for m in methods if m[key] == max(n[key] for n in methods)}
        assert set(re.findall(r"<td class=best>([^<]+)</td>", cells)) == best
    active = metrics["methods"]["active: imagenet"]
    assert f"named the right product first for {active['fine_top1'] * 100:.0f}%" in page
    assert "untrained off-the-shelf model" in page  # the active version is the ImageNet one here


def test_failure_gallery_and_pairs_show_the_mistakes(cli_report):
    report, metrics = cli_report
    page = _page(report)
    active = metrics["methods"]["active: imagenet"]
    wrong = round(metrics["queries"] * (1 - active["fine_top1"]))
    assert wrong > 0  # look-alike products: the run must have mistakes to show
    failures = re.findall(r'<li class="failure">(.*?)</li>', page, re.S)
    assert len(failures) == min(12, wrong)
    for card in failures:
        images = re.findall(r'<img class="thumb" src="([^"]+)"', card)
        assert len(images) == 3 and all((report / src).is_file() for src in images)
        taken, actual = re.findall(r"<strong>([^<]+)</strong>", card)
        assert taken != actual
        with Image.open(report / images[0]) as im:
            assert max(im.size) >= 300  # big enough to see why
    pairs = re.findall(r'<li class="pair">(.*?)</li>', page, re.S)
    counts = [int(n) for card in pairs for n in re.findall(r"<strong>(\d+) of \d+</strong>", card)]
    assert len(counts) == len(pairs) > 0 and counts == sorted(counts, reverse=True)
    if len(pairs) < 8:
        assert sum(counts) == wrong  # every mistake is in one of the pairs shown
    for card in pairs:
        assert len(re.findall(r'<img class="thumb" src="[^"]+"', card)) == 2
    for ref in re.findall(r'(?:src|srcset|href)="([^"#:]+)"', page):
        assert (report / ref).is_file(), ref


# --- by hand: three products, mistakes known in advance -------------------------------------------


def _hand_made(pred: list[int], sources: list[str]) -> EvalResult:
    """Six queries, two per product A, B, C; `pred` their predicted classes."""
    truth = np.array([0, 0, 1, 1, 2, 2])
    pred_arr = np.array(pred)
    cm = np.zeros((3, 3), dtype=np.int64)
    np.add.at(cm, (truth, pred_arr), 1)
    top1 = float((pred_arr == truth).mean())
    scores = {"R@1": top1, "R@5": 1.0, "R@10": 1.0, "mAP": top1, "mAP@R": top1, "fine_top1": top1, "fine_top5": 1.0,
              "recall_curve": {1: top1, 5: 1.0, 10: 1.0}}
    metrics = {"model": "efficientnet-lite0/v1/fp32", "queries": 6, "queries_skipped": 0, "gallery_images": 3,
               "products": 3, "categories": 0, "catalog_images_for_matching": 0, "embed_throughput_img_s": 20.0,
               "latency_ms": {"p50": 30.0, "p95": 40.0, "samples": 6},
               "methods": {"active: v1": {**scores, "recognition_mode": "classifier"}, "off-the-shelf": scores}}
    wrong = np.flatnonzero(pred_arr != truth)
    details = {"fine_confusion": cm, "fine_per_class": np.diag(cm) / 2, "fine_pred": pred_arr, "q_labels": truth,
               "q_sources": [f"/queries/q{i}.jpg" for i in range(6)], "g_sources": sources,
               "wrong_image": {int(i): int(pred_arr[i]) for i in wrong}, "right_image": {0: 0, 1: 1, 2: 2}}
    return EvalResult(metrics, ["A", "B", "C"], [], details)


def test_failures_and_pairs_computed_by_hand(tmp_path, query_photos):
    photos = [str(p) for p in query_photos.values()]
    result = _hand_made([0, 1, 0, 1, 2, 1], [photos[0], photos[1], str(tmp_path / "gone.jpg")])
    # query 1: A taken for B, query 2: B for A, query 5: C for B
    assert [(f.query, f.right, f.predicted) for f in find_failures(result.details, 12)] == [
        ("/queries/q1.jpg", 0, 1), ("/queries/q2.jpg", 1, 0), ("/queries/q5.jpg", 2, 1)]
    assert [(p.right, p.predicted, p.count, p.of) for p in confused_pairs(result.details, 8)] == [
        (0, 1, 1, 2), (1, 0, 1, 2), (2, 1, 1, 2)]
    assert len(find_failures(result.details, 2)) == 2

    history = [{"epoch": e, "train_loss": 1 / e, "val_r1": 0.5 + e / 20, "val_cls_acc": 0.4 + e / 20} for e in (1, 2, 3)]
    files = write_report(result, tmp_path / "report", history=history)
    assert {"training_curves.png", "phone/training_curves.png"} <= set(files)
    for name, path in files.items():
        assert path.is_file()
        if name.endswith(".png"):
            assert read_fit(path).ok, name
    page = _page(tmp_path / "report")
    assert "Photos named wrongly (all 3)" in page
    # the three query photos, and C's image in its failure and in its pair
    assert page.count("photo not available") == 3 + 2
    assert "untrained off-the-shelf" not in page  # a trained version: its column is its own


def test_every_wrongly_named_photo_can_be_browsed(tmp_path, query_photos):
    photos = [str(p) for p in query_photos.values()]
    files = write_report(_hand_made([0, 1, 0, 1, 2, 1], photos), tmp_path / "report", max_failures=1)
    page = _page(tmp_path / "report")
    assert "Photos named wrongly (1 of 3)" in page and len(re.findall(r'<li class="failure">', page)) == 1
    assert '<a href="failures.html">Browse all 3 wrongly named photos</a>' in page
    listing = files["failures.html"].read_text(encoding="utf-8")
    cards = re.findall(r'<li class="failure">(.*?)</li>', listing, re.S)
    assert [re.search(r'class="file">([^<]+)<', c).group(1) for c in cards] == ["q1.jpg", "q2.jpg", "q5.jpg"]
    for ref in re.findall(r'(?:src|href)="([^"#:]+)"', listing):
        assert (tmp_path / "report" / ref).is_file(), ref


def test_report_without_mistakes_says_so(tmp_path, query_photos):
    photos = [str(p) for p in query_photos.values()]
    files = write_report(_hand_made([0, 0, 1, 1, 2, 2], photos), tmp_path / "report")
    page = _page(tmp_path / "report")
    assert "every test photo was named right" in page and "No product was taken for another" in page
    assert 'class="failure"' not in page and "training_curves.png" not in files and "failures.html" not in files


def test_evaluate_counts_and_baselines(tiny_catalog, query_photos, tmp_path):
    queries = tmp_path / "queries.csv"
    with open(queries, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["product_id", "image"])
        for pid, photo in query_photos.items():
            w.writerow([pid, str(photo)])
        w.writerow(["Not-In-Catalogue", str(next(iter(query_photos.values())))])
    with Catalog.open(tiny_catalog) as catalog:
        result = catalog.evaluate(list(read_source(queries)), cnn_epochs=2, latency_samples=3)
    m = result.metrics
    assert m["queries"] == 3 and m["queries_skipped"] == 1
    assert set(m["methods"]) == {"active: imagenet", "off-the-shelf", "colour-histogram", "small-cnn (scratch)"}
    # The active model is the off-the-shelf one here, so both rows must agree.
    assert m["methods"]["active: imagenet"]["R@1"] == m["methods"]["off-the-shelf"]["R@1"]
    for method in m["methods"].values():
        assert 0.0 <= method["mAP@R"] <= 1.0 and 0.0 <= method["R@1"] <= 1.0
    write_report(result, tmp_path / "report")
    saved = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert saved["methods"]["off-the-shelf"]["R@1"] == m["methods"]["off-the-shelf"]["R@1"]
    assert set(saved["per_product_accuracy"]) == set(query_photos)
