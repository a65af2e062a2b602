"""Every command whose output is data takes `--format` (and `--json`, the same as `--format json`)
from one decorator (cli/formats.py); each one, run on the tiny catalogue, prints valid JSON, JSON
lines and CSV with a header row."""

from __future__ import annotations

import csv
import io
import itertools
import json

import click
import pytest
from click.testing import CliRunner

from productlens.cli import cli
from productlens.cli.formats import FORMATS

pytestmark = pytest.mark.fast

# Commands that print no data, each with the reason.
NOT_DATA = {("serve",): "runs the server until stopped; what it prints is a log"}


def leaf_commands(group: click.Group = cli, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], click.Command]:
    """Every command a user runs (a group that does something without a subcommand counts too)."""
    found = {}
    for name, command in group.commands.items():
        if not isinstance(command, click.Group) or command.invoke_without_command:
            found[(*path, name)] = command
        if isinstance(command, click.Group):
            found.update(leaf_commands(command, (*path, name)))
    return found


def format_option_of(command: click.Command) -> click.Option | None:
    """The option that chooses among FORMATS, if the command has one."""
    return next((p for p in command.params if isinstance(p, click.Option) and p.name == "fmt"
                 and isinstance(p.type, click.Choice) and tuple(p.type.choices) == FORMATS), None)


def test_every_data_command_takes_the_format_option_and_json():
    commands = leaf_commands()
    assert ("index", "build") in commands and ("models",) in commands and ("datasets", "grocery-store") in commands
    missing = [" ".join(path) for path, command in commands.items()
               if path not in NOT_DATA and format_option_of(command) is None]
    assert not missing, f"commands without @format_option: {missing}"
    for path, command in commands.items():
        if path not in NOT_DATA:
            assert "--json" in {opt for p in command.params for opt in getattr(p, "opts", ())}, path
    assert set(NOT_DATA) <= set(commands), "NOT_DATA names a command that is gone"


def run(*args: object) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


@pytest.fixture
def shop(fast_catalog, fast_photos, fast_queries, tmp_path):
    """The tiny catalogue, with what the commands below read: a query list, an image list."""
    queries = tmp_path / "queries.csv"
    queries.write_text("product_id,image\n" + "".join(f"{pid},{path}\n" for pid, path in fast_queries.items()))
    images = tmp_path / "images.txt"
    images.write_text("".join(f"{path},{pid}\n" for pid, path in fast_queries.items()))
    return {"catalog": fast_catalog, "photos": fast_photos, "queries": queries, "images": images, "tmp": tmp_path,
            "query": fast_queries["red-blue"], "left": sorted(fast_queries),
            "runs": itertools.count()}


# path -> (arguments, a key every JSON document of it has); run in this order on one catalogue
INVOCATIONS = {
    ("info",): (lambda s: [], "images"),
    ("list",): (lambda s: [], None),
    ("search",): (lambda s: [s["query"], "-k", "2"], "results"),
    ("similar",): (lambda s: ["red-blue", "-k", "2"], "results"),
    ("recognize",): (lambda s: [s["query"]], "candidates"),
    ("models",): (lambda s: [], None),
    ("models", "use"): (lambda s: ["imagenet"], "switched"),
    ("index", "info"): (lambda s: [], "kind"),
    ("index", "build"): (lambda s: ["--kind", "flat"], "kind"),
    ("update",): (lambda s: ["red-blue", "--set", "brand=Arla"], "attributes"),
    ("add",): (lambda s: [s["photos"]], "added"),
    ("duplicates",): (lambda s: ["--no-text", "--image-threshold", "0.9"], "image_clusters"),
    ("eval",): (lambda s: ["--queries", s["queries"], "--baselines", ""], "methods"),
    ("embed",): (lambda s: [s["images"], "--out", s["tmp"] / f"job-{next(s['runs'])}", "--model", "tiny-test"],
                 "embedded"),
    ("index", "import"): (lambda s: [s["tmp"] / "job-0"], "added"),
    ("export",): (lambda s: [s["tmp"] / f"feed-{next(s['runs'])}"], "products"),
    ("remove",): (lambda s: [s["left"].pop()], "images"),  # run four times: one product each
}
# Data commands not run here, each with where its output is tested.
RUN_ELSEWHERE = {
    ("calibrate",): "tests/cli/test_cli.py (needs held-out photos of the tiny Grocery catalogue)",
    ("train",): "tests/training/test_train_cli.py (minutes of training)",
    ("datasets", "grocery-store"): "tests/cli/test_cli.py (needs the Grocery Store dataset)",
}


def test_every_data_command_is_run_here_or_elsewhere():
    data = {path for path in leaf_commands() if path not in NOT_DATA}
    assert set(INVOCATIONS) | set(RUN_ELSEWHERE) == data
    assert not set(INVOCATIONS) & set(RUN_ELSEWHERE)


def test_each_data_command_prints_json_jsonl_and_csv(shop):
    commands = leaf_commands()
    for path, (arguments, key) in INVOCATIONS.items():
        flag = format_option_of(commands[path]).opts[0]  # --format, or export's --report-format

        def output(fmt: str) -> str:
            return run("--catalog", shop["catalog"], *path, *arguments(shop), flag, fmt)

        document = json.loads(output("json"))
        assert key is None or key in document, (path, document)
        again = json.loads(run("--catalog", shop["catalog"], *path, *arguments(shop), "--json"))
        assert type(again) is type(document), path
        assert all(isinstance(json.loads(line), dict) for line in output("jsonl").splitlines()), path
        table = list(csv.reader(io.StringIO(output("csv"))))
        assert table and table[0] and all(len(row) == len(table[0]) for row in table), path


def test_a_report_is_one_csv_row_with_nested_values_as_json(fast_catalog):
    [row] = csv.DictReader(io.StringIO(run("--catalog", fast_catalog, "info", "--format", "csv")))
    assert row["images"] == "12" and json.loads(row["recognition"])["threshold"] > 0
    assert json.loads(run("--catalog", fast_catalog, "info", "--format", "jsonl"))["images"] == 12


def test_export_keeps_format_for_the_feed_and_takes_report_format(fast_catalog, tmp_path):
    report = json.loads(run("--catalog", fast_catalog, "export", tmp_path / "a", "--format", "jsonl",
                            "--report-format", "json"))
    assert report["feed"].endswith("products.jsonl") and (tmp_path / "a" / "products.jsonl").exists()
    assert json.loads(run("--catalog", fast_catalog, "export", tmp_path / "b", "--json"))["feed"].endswith(".csv")
    clash = CliRunner().invoke(cli, ["--catalog", str(fast_catalog), "export", str(tmp_path / "c"), "--json",
                                     "--report-format", "csv"])
    assert clash.exit_code == 2 and "--json and --report-format csv disagree" in clash.output
