"""Docs that cannot drift: the CLI reference and the settings page are what scripts/gen_docs.py
writes now, and every PRODUCTLENS_* variable the package reads is a declared setting."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from productlens.settings import SETTINGS

pytestmark = pytest.mark.fast

ROOT = Path(__file__).resolve().parents[1]


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("page", ["cli.md", "settings.md"])
def test_generated_page_is_current(page):
    generator = load_generator()
    expected = generator.PAGES[page]()
    assert (ROOT / "docs" / page).read_text() == expected, f"docs/{page} is stale: run `make docs`"


def test_the_cli_page_covers_every_command():
    generator = load_generator()
    page = (ROOT / "docs" / "cli.md").read_text()
    paths = list(generator.commands(generator.cli))
    assert ("index", "build") in paths and ("models", "use") in paths
    for path in paths:
        assert f"## productlens {' '.join(path)}\n" in page


def test_every_environment_variable_read_is_a_declared_setting():
    declared = {s.env_var for s in SETTINGS.values()}
    used = set()
    for path in (ROOT / "src" / "productlens").rglob("*.py"):
        used |= set(re.findall(r"PRODUCTLENS_[A-Z][A-Z_]*", path.read_text()))
    assert used, "the scan found nothing: the pattern is wrong"
    assert used <= declared, f"undeclared: {sorted(used - declared)} (add them to settings.py)"
    page = (ROOT / "docs" / "settings.md").read_text()
    assert all(f"`{var}`" in page for var in declared)


def test_a_stale_page_is_reported(tmp_path, monkeypatch):
    generator = load_generator()
    monkeypatch.setattr(generator, "DOCS", tmp_path)
    assert generator.main(["--check"]) == 1  # nothing written yet: stale
    assert generator.main([]) == 0 and generator.main(["--check"]) == 0
    (tmp_path / "settings.md").write_text("edited by hand\n")
    assert generator.main(["--check"]) == 1


def test_the_readme_lists_every_skip_reason():
    import productlens.errors

    reasons = {obj.reason for obj in vars(productlens.errors).values()
               if isinstance(obj, type) and issubclass(obj, productlens.errors.ImageError) and obj is not productlens.errors.ImageError}
    reasons.add("unreadable")  # an OSError reading the file (engine/ingest.py)
    section = (ROOT / "README.md").read_text().split("## Bad input", 1)[1].split("\n## ", 1)[0]
    assert {"not-a-file", "read-timeout"} <= reasons
    assert not {r for r in reasons if f"`{r}`" not in section}, "README's Bad input section misses a skip reason"
