"""Docs that cannot drift: the CLI reference, the settings page and the generated sections of the
architecture page are what scripts/gen_docs.py writes now, every PRODUCTLENS_* variable the
package reads is a declared setting, and every registry has a "How to add" section."""

from __future__ import annotations

import ast
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


@pytest.mark.parametrize("page", ["cli.md", "settings.md", "architecture.md"])
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


def registries() -> dict[str, str]:
    """Every registry in the package: a module-level `register_*` function whose first parameter
    is `name` (what it registers under) -> the module defining it."""
    found = {}
    for path in sorted((ROOT / "src" / "productlens").rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if (isinstance(node, ast.FunctionDef) and node.name.startswith("register_") and node.args.args
                    and node.args.args[0].arg == "name"):
                found[node.name] = str(path.relative_to(ROOT))
    return found


def how_to_add_sections() -> list[str]:
    page = (ROOT / "docs" / "architecture.md").read_text()
    return [part.split("\n## ", 1)[0] for part in page.split("\n### How to add ")[1:]]


def test_every_registry_has_a_how_to_add_section():
    found = registries()
    assert {"register_index", "register_embedder"} <= set(found), found  # the scan sees the known ones
    sections = how_to_add_sections()
    assert len(sections) >= 4  # index kind, embedder, detector, recommender
    undocumented = [f"{name} ({where})" for name, where in found.items()
                    if not any(f"{name}(" in section for section in sections)]
    assert not undocumented, "registries without a 'How to add' section in docs/architecture.md: " + ", ".join(undocumented)
