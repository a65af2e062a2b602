"""`--format table|json|jsonl|csv|tsv` on the commands that list things, `--json` as its alias."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from productlens.cli import cli

pytestmark = pytest.mark.fast


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def rows(output: str, delimiter: str = ",") -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(output), delimiter=delimiter))


def test_list_as_csv_tsv_jsonl_and_json(fast_catalog):
    run("--catalog", fast_catalog, "update", "red-blue", "--set", "brand=Arla, Sweden", "--set", "price=2.49")
    products = rows(run("--catalog", fast_catalog, "list", "--format", "csv").stdout)
    assert [p["id"] for p in products] == ["black-white", "green-yellow", "purple-orange", "red-blue"]
    assert list(products[0]) == ["id", "title", "category", "description", "image_count", "brand", "price"]
    assert products[3]["brand"] == "Arla, Sweden" and products[3]["price"] == "2.49"  # a quoted comma survives
    assert products[0]["category"] == "Fruit" and products[0]["image_count"] == "3" and products[0]["brand"] == ""

    tsv = rows(run("--catalog", fast_catalog, "list", "--format", "tsv", "--where", "category = 'Milk'").stdout, "\t")
    assert [(p["id"], p["category"]) for p in tsv] == [("green-yellow", "Milk"), ("red-blue", "Milk")]

    lines = run("--catalog", fast_catalog, "list", "--format", "jsonl").stdout.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [p["id"] for p in products]
    assert json.loads(lines[3])["attributes"] == {"brand": "Arla, Sweden", "price": "2.49"}
    as_json = json.loads(run("--catalog", fast_catalog, "list", "--json").stdout)
    assert as_json == json.loads(run("--catalog", fast_catalog, "list", "--format", "json").stdout)
    assert [p["id"] for p in as_json] == [p["id"] for p in products]

    table = run("--catalog", fast_catalog, "list").stdout.splitlines()
    assert table[0].split() == ["id", "title", "category", "images"]


def test_search_similar_and_recognize_formats(fast_catalog, fast_queries):
    photo = fast_queries["green-yellow"]
    hits = rows(run("--catalog", fast_catalog, "search", photo, "-k", "3", "--format", "csv").stdout)
    assert [h["rank"] for h in hits] == ["1", "2", "3"] and hits[0]["id"] == "green-yellow"
    assert list(hits[0])[:6] == ["rank", "score", "id", "title", "category", "image_id"]
    assert float(hits[0]["score"]) >= float(hits[1]["score"])
    document = json.loads(run("--catalog", fast_catalog, "search", photo, "-k", "3", "--format", "json").stdout)
    assert document["query"] == str(photo) and [r["id"] for r in document["results"]] == [h["id"] for h in hits]
    jsonl = [json.loads(line) for line in run("--catalog", fast_catalog, "search", photo, "-k", "3", "--format",
                                              "jsonl").stdout.splitlines()]
    assert [r["id"] for r in jsonl] == [h["id"] for h in hits]

    similar = rows(run("--catalog", fast_catalog, "similar", "red-blue", "-k", "2", "--format", "tsv").stdout, "\t")
    assert len(similar) == 2 and "red-blue" not in [s["id"] for s in similar]

    [verdict] = rows(run("--catalog", fast_catalog, "recognize", photo, "--format", "csv").stdout)
    assert verdict["known"] == "true" and verdict["product_id"] == "green-yellow" and verdict["query"] == str(photo)
    assert float(verdict["confidence"]) >= float(verdict["threshold"])  # the decision's scale, not the similarity's
    full = json.loads(run("--catalog", fast_catalog, "recognize", photo, "--json").stdout)
    assert full["product"]["id"] == "green-yellow" and full["candidates"][0]["id"] == "green-yellow"


def test_models_duplicates_and_eval_formats(fast_catalog, fast_queries, tmp_path):
    [version] = rows(run("--catalog", fast_catalog, "models", "--format", "csv").stdout)
    assert version["version"] == "imagenet" and version["active"] == "true" and version["embedded_images"] == "12"

    clusters = [json.loads(line) for line in run("--catalog", fast_catalog, "duplicates", "--no-text",
                                                 "--image-threshold", "0.9", "--format", "jsonl").stdout.splitlines()]
    assert clusters and {c["kind"] for c in clusters} == {"image"}
    assert all(len(c["products"]) == 1 and c["score"] >= 0.9 for c in clusters)  # each product's own photos
    table = rows(run("--catalog", fast_catalog, "duplicates", "--no-text", "--image-threshold", "0.9",
                     "--format", "csv").stdout)
    assert [json.loads(t["members"]) for t in table] == [c["members"] for c in clusters]

    queries = tmp_path / "queries.csv"
    queries.write_text("product_id,image\n" + "".join(f"{pid},{path}\n" for pid, path in fast_queries.items()))
    methods = rows(run("--catalog", fast_catalog, "eval", "--queries", queries, "--baselines", "colour-histogram",
                       "--format", "csv").stdout)
    assert [m["method"] for m in methods] == ["active: imagenet", "colour-histogram"]
    assert 0 <= float(methods[0]["R@1"]) <= 1
    metrics = json.loads(run("--catalog", fast_catalog, "eval", "--queries", queries, "--baselines", "",
                             "--json").stdout)
    assert metrics["queries"] == 4 and list(metrics["methods"]) == ["active: imagenet"]


def test_json_and_another_format_disagree(fast_catalog):
    result = CliRunner().invoke(cli, ["--catalog", str(fast_catalog), "list", "--json", "--format", "csv"])
    assert result.exit_code == 2 and "--json and --format csv disagree" in result.output
