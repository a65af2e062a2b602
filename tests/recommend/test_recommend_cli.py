"""`productlens interactions ...` and `productlens recommend ...` as a user runs them: output
shapes, the plot, one-line errors."""

import json

import pytest
from click.testing import CliRunner
from planted_interactions import planted_log

from productlens.cli import cli

pytestmark = pytest.mark.fast


@pytest.fixture
def run(tmp_path, tiny_model):
    runner = CliRunner()
    catalog = tmp_path / "shop"

    def invoke(*args):
        return runner.invoke(cli, ["--catalog", str(catalog), *map(str, args)])

    log = planted_log(users=150)
    events = tmp_path / "events.csv"
    events.write_text("user_id,product_id,event,timestamp\n" + "".join(
        f"{log.user_ids[u]},{log.item_ids[i]},{'purchase' if n % 4 == 0 else 'view'},{1_600_000_000 + n}\n"
        for n, (u, i) in enumerate(zip(log.users, log.items))))
    from productlens import Catalog

    Catalog.create(catalog, model=tiny_model, index="memory").close()
    added = invoke("interactions", "add", events, "--weight", "purchase=4", "--format", "json")
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)[0]["added"] == len(log)
    return invoke


def test_info_fit_and_recommend_shapes(run):
    info = json.loads(run("interactions", "info", "--format", "json").output)[0]
    assert info["users"] == 150 and info["events"]["purchase"] > 0 and info["recommender"] is None
    fit = run("recommend", "fit", "--model", "item-knn", "--budget", "1m", "--format", "json")
    assert fit.exit_code == 0, fit.output
    assert json.loads(fit.output)["activated"] is True
    out = run("recommend", "--user", "u3", "-k", "4", "--format", "json")
    data = json.loads(out.output)
    assert data["user"] == "u3" and [r["rank"] for r in data["results"]] == [1, 2, 3, 4]
    csv = run("recommend", "--product", "p011", "-k", "3", "--format", "csv").output.splitlines()
    assert csv[0].startswith("rank,score,id") and len(csv) == 4
    basket = run("recommend", "--items", "p011,p012", "-k", "2")
    assert basket.exit_code == 0 and "top 2" in basket.output


def test_eval_prints_every_model_and_writes_a_plot(run, tmp_path):
    plot = tmp_path / "models.png"
    out = run("recommend", "eval", "--models", "popularity,item-knn,als", "--budget", "1m", "--plot", plot,
              "--format", "json")
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)["models"]
    assert {r["model"] for r in rows} >= {"popularity", "item-knn", "als"}
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_bad_requests_are_one_line_errors(run):
    both = run("recommend", "--user", "u1", "--product", "p001")
    assert both.exit_code == 2 and "exactly one" in both.output
    unknown = run("recommend", "fit", "--model", "nope")
    assert unknown.exit_code == 1 and "choose from" in unknown.output and "Traceback" not in unknown.output
    assert run("interactions", "remove", "--user", "u1").output.startswith("removed 8 ")
    assert json.loads(run("interactions", "remove", "--user", "u2", "--format", "json").output) == \
        [{"user": "u2", "removed": 8}]
    weight = run("interactions", "add", __file__, "--weight", "buy=x")
    assert weight.exit_code == 2 and "EVENT=NUMBER" in weight.output
