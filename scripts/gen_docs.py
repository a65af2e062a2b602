"""Write the generated reference pages: docs/cli.md (every command's --help), docs/settings.md
(every PRODUCTLENS_* setting, from settings.py) and the generated sections of
docs/architecture.md (the layers, from the import graph and the table in
tests/test_architecture.py; every module's first docstring line). `make docs` runs this;
tests/test_docs.py fails when the committed pages differ from what it would write, so they
cannot drift.

    python scripts/gen_docs.py          write the pages
    python scripts/gen_docs.py --check  exit 1 if a page is stale
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from click.testing import CliRunner

from productlens.cli import cli
from productlens.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SRC = ROOT / "src" / "productlens"
WIDTH = 100  # help text is wrapped at this width, whatever the terminal


def commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command path under `group`, parents before their subcommands, in alphabetical order."""
    for name in sorted(group.commands):
        sub = group.commands[name]
        yield (*path, name)
        if isinstance(sub, click.Group):
            yield from commands(sub, (*path, name))


def help_text(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="productlens", terminal_width=WIDTH)
    if result.exit_code != 0:
        raise RuntimeError(f"productlens {' '.join(path)} --help failed: {result.output}")
    return result.output.rstrip() + "\n"


def cli_reference() -> str:
    parts = ["# Command-line reference\n",
             "Generated from each command's `--help` by `make docs` (scripts/gen_docs.py); do not edit by hand.\n",
             "## productlens\n", "```\n" + help_text(()) + "```\n"]
    for path in commands(cli):
        parts += [f"## productlens {' '.join(path)}\n", "```\n" + help_text(path) + "```\n"]
    return "\n".join(parts)


def settings_reference() -> str:
    rows = ["| Variable | Default | What it does |", "|---|---|---|"]
    for s in SETTINGS.values():
        default = s.shown if s.shown is not None else ("(none)" if s.default is None else f"`{s.default}`")
        rows.append(f"| `{s.env_var}` | {default} | {s.help.replace('|', '/')} |")
    return "\n".join([
        "# Settings\n",
        "Every setting can be set in the environment. Generated from `src/productlens/settings.py` by",
        "`make docs` (scripts/gen_docs.py); do not edit by hand.\n",
        *rows, "",
    ])


def load_architecture_test():
    """tests/test_architecture.py as a module: its layer table (LEAVES, NEVER_IMPORTS) and the
    import graph it checks are what the layer section is drawn from."""
    name = "productlens_architecture_rules"
    if name not in sys.modules:  # its dataclass needs the module registered while it runs
        spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / "test_architecture.py")
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def summary(path: Path, limit: int = 110) -> str:
    """The first sentence of a module's docstring, cut at a word near `limit` characters."""
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    sentence = re.split(r"(?<=[.!?])\s", paragraph, maxsplit=1)[0].rstrip(".")
    return sentence if len(sentence) <= limit else sentence[:limit].rsplit(" ", 1)[0] + " ..."


def unit_path(name: str) -> Path:
    """A layer's source: the package's __init__.py or the top-level module."""
    package = SRC / name / "__init__.py"
    return package if package.exists() else SRC / f"{name}.py"


def floors(graph: dict[str, dict[str, list[str]]], leaves: set[str]) -> dict[str, int]:
    """Each layer's floor: 0 for the bottom layer, else one above the highest layer it imports."""
    floor: dict[str, int] = {}

    def of(name: str) -> int:
        if name not in floor:
            above = [of(t) for t in graph.get(name, {}) if t not in leaves]
            floor[name] = 0 if name in leaves else 1 + max(above, default=0)
        return floor[name]

    for name in graph:
        of(name)
    return floor


def layers_section() -> str:
    rules = load_architecture_test()
    graph, leaves = rules.layer_graph(), set(rules.LEAVES)
    floor = floors(graph, leaves)
    shown = lambda name: f"{name}/" if (SRC / name).is_dir() else f"{name}.py"  # noqa: E731
    lines = ["```"]
    for level in sorted(set(floor.values()), reverse=True):
        names = sorted(n for n in floor if floor[n] == level)
        lines.append(f"floor {level}  " + "  ".join(shown(n) for n in names))
    lines += ["```", "", "| layer | floor | what it is | imports | must never import |", "|---|---|---|---|---|"]
    for name in sorted(floor, key=lambda n: (-floor[n], n)):
        imports = ", ".join(sorted(graph.get(name, {}))) or "-"
        banned = "the bottom layer only" if name in leaves else ", ".join(sorted(rules.NEVER_IMPORTS.get(name, ()))) or "-"
        lines.append(f"| `{shown(name)}` | {floor[name]} | {summary(unit_path(name))} | {imports} | {banned} |")
    return "\n".join(lines)


def modules_section() -> str:
    lines = []
    for package in sorted(p for p in SRC.iterdir() if (p / "__init__.py").exists()):
        lines.append(f"- **{package.name}/**")
        lines += [f"  - `{m.stem}`: {summary(m)}" for m in sorted(package.glob("*.py")) if m.name != "__init__.py"]
    return "\n".join(lines)


GENERATED = {"layers": layers_section, "modules": modules_section}
MARK = "<!-- {} generated: {} (scripts/gen_docs.py; do not edit by hand) -->"


def architecture_page() -> str:
    """docs/architecture.md with each generated section between its markers written anew."""
    path = DOCS / "architecture.md"
    page = path.read_text() if path.exists() else "# Architecture\n\n" + "".join(
        f"{MARK.format('begin', name)}\n{MARK.format('end', name)}\n\n" for name in GENERATED)
    for name, render in GENERATED.items():
        begin, end = MARK.format("begin", name), MARK.format("end", name)
        pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
        if not pattern.search(page):
            raise RuntimeError(f"docs/architecture.md lost its markers for the {name} section")
        page = pattern.sub(lambda _: f"{begin}\n{render()}\n{end}", page)
    return page


PAGES = {"cli.md": cli_reference, "settings.md": settings_reference, "architecture.md": architecture_page}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale pages (exit 1 if any)")
    args = parser.parse_args(argv)
    stale = []
    for name, render in PAGES.items():
        text, path = render(), DOCS / name
        if path.exists() and path.read_text() == text:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(text)
    if stale:
        print(("stale: " if args.check else "wrote: ") + ", ".join(stale))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
