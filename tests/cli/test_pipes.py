"""Output to a pipe (`productlens ... | head`, `> file`): never wrapped or cut, no progress bars."""

from __future__ import annotations

import pytest
from tiny import write_photos

pytestmark = pytest.mark.fast

LONG_TITLE = "Organic fair-trade Cavendish bananas from a cooperative in the Dominican Republic, bunch of six [loose]"


@pytest.fixture
def long_titled(fast_catalog, piped):
    """The fast catalogue with one product whose title is far wider than 80 columns."""
    assert piped("--catalog", fast_catalog, "update", "green-yellow", "--title", LONG_TITLE).returncode == 0
    return fast_catalog


def test_tables_and_lines_are_whole_when_piped(long_titled, piped, fast_queries):
    listed = piped("list", "--catalog", long_titled)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["id", "title", "category", "images"]  # a header row, no box drawing
    row = next(line for line in lines if line.startswith("green-yellow"))
    assert LONG_TITLE in row and row.rstrip().endswith("3")  # title whole, image count on the same line
    assert len(lines) == 1 + 4

    found = piped("--catalog", long_titled, "search", fast_queries["green-yellow"], "-k", "2")
    assert any(LONG_TITLE in line and line.split()[1].startswith("0.") for line in found.stdout.splitlines())
    assert "…" not in found.stdout

    verdict = piped("--catalog", long_titled, "recognize", fast_queries["green-yellow"])
    first, second = verdict.stdout.splitlines()[:2]  # what `recognize ... | head -1` shows: the decision
    assert first.startswith("green-yellow: confidence") and " needed (similarity " in first and first.endswith(")")
    assert second == f"product: {LONG_TITLE}"  # the title whole

    versions = piped("--catalog", long_titled, "models").stdout.splitlines()
    assert versions[0].split()[:2] == ["version", "recipe"] and versions[1].split()[:2] == ["*", "imagenet"]


def test_add_summary_is_one_line_and_no_progress_bar(piped, fast_photos, tiny_model, tmp_path):
    shop = tmp_path / "a-catalogue-folder-with-a-rather-long-name-so-lines-run-past-eighty-columns" / "shop"
    added = piped("--catalog", shop, "add", fast_photos, "--model", tiny_model, "--index", "memory",
                  "--category", "Snacks")
    assert added.returncode == 0, added.stderr
    assert added.stderr == ""  # no progress bar on a pipe
    [summary] = added.stdout.splitlines()
    assert summary.startswith("added 12 image(s)") and summary.endswith(" img/s)")


def test_eval_table_is_whole_when_piped(fast_catalog, fast_queries, piped, tmp_path):
    queries = tmp_path / "queries.csv"
    queries.write_text("product_id,image\n" + "".join(f"{pid},{path}\n" for pid, path in fast_queries.items()))
    shown = piped("--catalog", fast_catalog, "eval", "--queries", queries, "--baselines", "colour-histogram")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == "4 queries, 12 catalogue images"
    assert lines[1].split()[:4] == ["method", "R@1", "R@5", "R@10"] and "coarse_top5" in lines[1]
    assert lines[2].startswith("active: imagenet ") and lines[3].startswith("colour-histogram ")
    columns = len(lines[1].split())  # every column on one line: "active: imagenet" is two words
    assert len(lines[2].split()) == columns + 1 and len(lines[3].split()) == columns


def test_train_messages_are_not_wrapped_in_a_file(piped, fast_catalog, tmp_path):
    """stderr to a file: rich used to wrap train's messages at 80 columns."""
    photos = write_photos(tmp_path / "val", first_seed=300)
    (tmp_path / "val.csv").write_text("product_id,image\n" + "".join(
        f"{p.parent.name},{p}\n" for p in sorted(photos.glob("*/*.jpg"))))
    done = piped("--catalog", fast_catalog, "train", "--backbone", "tiny-test", "--hidden", "0", "--no-tta",
                 "--epochs", "1", "--views", "1", "--val", tmp_path / "val.csv", "--budget", "5m")
    assert done.returncode == 0, done.stderr
    tried = [line for line in done.stderr.splitlines() if line.startswith("tried ")]
    assert tried and all(line.rstrip().endswith(")") and "top-1" in line for line in tried), done.stderr
    assert max(len(line) for line in tried) > 80
