"""Write the generated reference pages: docs/cli.md (every command's --help) and docs/settings.md
(every PRODUCTLENS_* setting, from settings.py). `make docs` runs this; tests/test_docs.py fails
when the committed pages differ from what it would write, so they cannot drift.

    python scripts/gen_docs.py          write the pages
    python scripts/gen_docs.py --check  exit 1 if a page is stale
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from click.testing import CliRunner

from productlens.cli import cli
from productlens.settings import SETTINGS

DOCS = Path(__file__).resolve().parents[1] / "docs"
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


PAGES = {"cli.md": cli_reference, "settings.md": settings_reference}


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
