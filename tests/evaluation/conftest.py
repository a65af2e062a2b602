"""A report made the way a user makes it: `add` a small look-alike catalogue, then `eval --report`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from support import require_grocery, split_photos

# Look-alike apples and milk cartons, so the report has mistakes to show.
LOOK_ALIKE = {
    "Golden-Delicious": ("Fruit/Apple/Golden-Delicious", "Apple"),
    "Granny-Smith": ("Fruit/Apple/Granny-Smith", "Apple"),
    "Pink-Lady": ("Fruit/Apple/Pink-Lady", "Apple"),
    "Red-Delicious": ("Fruit/Apple/Red-Delicious", "Apple"),
    "Arla-Standard-Milk": ("Packages/Milk/Arla-Standard-Milk", "Milk"),
    "Arla-Medium-Fat-Milk": ("Packages/Milk/Arla-Medium-Fat-Milk", "Milk"),
    "Oatly-Oat-Milk": ("Packages/Oat-Milk/Oatly-Oat-Milk", "Oat-Milk"),
    "Banana": ("Fruit/Banana", "Banana"),
}


def _feed(path: Path, split: str, per_product: int) -> Path:
    rows = [(pid, str(photo), category) for pid, (folder, category) in LOOK_ALIKE.items()
            for photo in split_photos(split, folder, per_product)]
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows([("product_id", "image", "category"), *rows])
    return path


@pytest.fixture(scope="session")
def cli_report(tmp_path_factory, model_cache) -> tuple[Path, dict]:
    """(report folder, the metrics `eval --json` printed) from real CLI runs: 8 products x 4
    catalogue photos, 3 held-out test photos each, every baseline."""
    from productlens.cli import cli

    require_grocery()
    root = tmp_path_factory.mktemp("eval-report")
    shop, report = root / "shop", root / "report"
    runner = CliRunner()
    added = runner.invoke(cli, ["--catalog", str(shop), "-q", "add", str(_feed(root / "train.csv", "train", 4))])
    assert added.exit_code == 0, added.output
    run = runner.invoke(cli, ["--catalog", str(shop), "eval", "--queries", str(_feed(root / "test.csv", "test", 3)),
                              "--report", str(report), "--cnn-epochs", "2", "--json"])
    assert run.exit_code == 0, run.output
    return report, json.loads(run.stdout)
