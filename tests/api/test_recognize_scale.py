"""One scale in words (issue #19): `recognize` as a CLI table, CSV, JSON and through the REST API
states the same decision, on the probability scale (confidence against the confidence needed),
and shows the cosine only as "similarity"; and the rejection `calibrate` prints, measured on
products left out of the catalogue, holds for a product the catalogue then really lacks."""

from __future__ import annotations

import csv
import io
import json

import pytest
from tiny import product_photo, run_cli, write_photos

from productlens import Catalog

pytestmark = pytest.mark.fast


def labelled_csv(tmp_path) -> str:
    photos = write_photos(tmp_path / "labelled", per_product=4, first_seed=300)
    lines = ["product_id,image"] + [f"{p.parent.name},{p}" for p in sorted(photos.glob("*/*.jpg"))]
    (tmp_path / "labelled.csv").write_text("\n".join(lines) + "\n")
    return str(tmp_path / "labelled.csv")


def test_recognize_says_one_decision_on_one_scale_everywhere(fast_catalog, fast_queries, serve_app, tmp_path):
    run_cli("--catalog", fast_catalog, "calibrate", "--photos", labelled_csv(tmp_path))
    run_cli("--catalog", fast_catalog, "remove", "purple-orange")  # its photo now shows a product the shop lacks
    verdicts = []
    with serve_app(fast_catalog) as server, server.client(None) as client:
        for product in ("green-yellow", "purple-orange"):
            photo = fast_queries[product]
            as_json = json.loads(run_cli("--catalog", fast_catalog, "recognize", photo, "--json"))
            [as_csv] = list(csv.DictReader(io.StringIO(run_cli("--catalog", fast_catalog, "recognize", photo, "--format", "csv"))))
            table = run_cli("--catalog", fast_catalog, "recognize", photo)
            api = client.post("/recognize", files={"image": ("q.jpg", photo.read_bytes(), "image/jpeg")}).json()
            decision = as_json["decision"]
            assert api["decision"] == as_csv["decision"] == decision and table.splitlines()[0] == decision
            for field in ("confidence", "threshold", "similarity"):
                assert api[field] == pytest.approx(as_json[field], abs=1e-6) == pytest.approx(float(as_csv[field]), abs=1e-6)
            known = as_json["known"]
            assert api["known"] == known == (as_csv["known"] == "true") == (as_json["confidence"] >= as_json["threshold"])
            sign = ">=" if known else "<"
            assert decision == (f"{product if known else 'unknown'}: confidence {as_json['confidence']:.2f} {sign} "
                                f"{as_json['threshold']:.2f} needed (similarity {as_json['similarity']:.3f})")
            assert "score" not in table and "score" not in as_json and "score" not in api  # the cosine is "similarity"
            verdicts.append(known)
    assert verdicts == [True, False]


def test_calibrate_prints_the_rejection_a_left_out_product_then_gets(fast_catalog, tmp_path):
    """Printed: unknown products rejected on products left out of the catalogue in folds. Then the
    catalogue really lacks one: fresh photos of it are rejected about as often as printed."""
    printed = json.loads(run_cli("--catalog", fast_catalog, "calibrate", "--photos", labelled_csv(tmp_path), "--json"))
    assert printed["unknown_products"] == 4 and printed["unknown_queries"] == 16
    assert printed["operating_point"] == "reject 90% of unknown products" and printed["unknown_reject_rate"] >= 0.9
    with Catalog.open(fast_catalog) as shop:
        shop.remove(["black-white"])
        answers = [shop.recognize(product_photo("black-white", 900 + seed)) for seed in range(20)]
    rejected = sum(not a.known for a in answers) / len(answers)
    assert abs(rejected - printed["unknown_reject_rate"]) <= 0.1
