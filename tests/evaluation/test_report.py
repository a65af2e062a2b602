"""eval on the tiny catalogue with every baseline: report files exist and the HTML shows every plot."""

from __future__ import annotations

import csv
import json
import re

from productlens import Catalog
from productlens.catalog.ingest import read_source
from productlens.evaluation.evaluate import evaluate
from productlens.evaluation.report import write_report


def test_report_files_and_html(tiny_catalog, query_photos, tmp_path):
    queries = tmp_path / "queries.csv"
    with open(queries, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["product_id", "image"])
        for pid, photo in query_photos.items():
            w.writerow([pid, str(photo)])
        w.writerow(["Not-In-Catalogue", str(next(iter(query_photos.values())))])
    with Catalog.open(tiny_catalog) as catalog:
        result = evaluate(catalog, list(read_source(queries)), cnn_epochs=2, latency_samples=3)
    m = result.metrics
    assert m["queries"] == 3 and m["queries_skipped"] == 1
    assert set(m["methods"]) == {"active: imagenet", "off-the-shelf", "colour-histogram", "small-cnn (scratch)"}
    # The active model is the off-the-shelf one here, so both rows must agree.
    assert m["methods"]["active: imagenet"]["R@1"] == m["methods"]["off-the-shelf"]["R@1"]
    for method in m["methods"].values():
        assert 0.0 <= method["mAP@R"] <= 1.0 and 0.0 <= method["R@1"] <= 1.0
    files = write_report(result, tmp_path / "report")
    page = (tmp_path / "report" / "report.html").read_text()
    pngs = sorted(p.name for p in (tmp_path / "report").glob("*.png"))
    assert {"methods.png", "recall_vs_k.png", "confusion_fine.png", "per_product.png", "failures.png"} <= set(pngs)
    assert sorted(set(re.findall(r'src="([^"]+\.png)"', page))) == pngs
    for p in files.values():
        assert p.exists() and p.stat().st_size > 0
    saved = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert saved["methods"]["off-the-shelf"]["R@1"] == m["methods"]["off-the-shelf"]["R@1"]
    assert set(saved["per_product_accuracy"]) == set(query_photos)
