"""The default time budget grows with the catalogue, and a run reports what each stage cost
(printed, and in the version's metrics)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from tiny import write_photos

from productlens.cli.main import cli
from productlens.cli.train_cmds import parse_duration
from productlens.training.stage_clock import AUTO, LONGEST_S, SHORTEST_S, StageClock, default_budget_s

pytestmark = pytest.mark.fast


def test_the_default_budget_is_ten_minutes_up_to_1500_photos_then_grows_to_twenty():
    assert default_budget_s(10) == default_budget_s(1500) == SHORTEST_S == 600
    assert default_budget_s(2721) == default_budget_s(50_000) == LONGEST_S == 1200
    middle = default_budget_s((1500 + 2721) // 2)
    assert 890 < middle < 910  # linear in between
    assert default_budget_s(2000) < default_budget_s(2500)
    assert parse_duration("auto") == AUTO and parse_duration("20m") == 1200 and parse_duration("none") is None


def test_the_stage_clock_adds_up_repeated_stages_in_order():
    clock = StageClock()
    for name in ("search", "head recipe", "search"):
        with clock.stage(name):
            pass
    assert list(clock.seconds) == ["search", "head recipe"]
    assert "search 0 s" in clock.summary()


def test_a_default_run_prints_its_budget_and_records_each_stage(fast_catalog, tmp_path):
    photos = write_photos(tmp_path / "val", first_seed=300)
    lines = ["product_id,image"] + [f"{p.parent.name},{p}" for p in sorted(photos.glob("*/*.jpg"))]
    (tmp_path / "val.csv").write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(cli, ["--catalog", str(fast_catalog), "train", "--backbone", "tiny-test", "--epochs",
                                      "2", "--views", "1", "--val", str(tmp_path / "val.csv")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "time budget: 10.0 min for 12 photos" in result.output
    assert "time per stage: settings search" in result.output
    version = next(line.split()[1] for line in result.output.splitlines() if line.startswith("trained "))
    meta = json.loads((fast_catalog / "models" / version.split("/")[1] / "version.json").read_text())
    stages = meta["metrics"]["stage_seconds"]
    assert list(stages)[:4] == ["settings search", "head recipe", "partial recipe", "comparison"]
    assert all(seconds >= 0 for seconds in stages.values())
    # The tiny network has no stages to cut: the partial recipe says so instead of failing.
    assert any(c["setting"]["recipe"] == "partial" and "cannot be cut" in c["note"] for c in meta["candidates"])
