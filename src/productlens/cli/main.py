"""The command group, global options and error handling; commands live in sibling modules."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from .. import settings
from ..engine import Catalog
from ..errors import ProductLensError


class State:
    """Global options, passed to every command."""

    def __init__(self, catalog: Path | None, quiet: bool, verbose: int) -> None:
        self.catalog_path, self.quiet, self.verbose = catalog, quiet, verbose

    def path(self) -> Path:
        if self.catalog_path is None:
            raise click.UsageError("no catalogue: pass --catalog PATH or set PRODUCTLENS_CATALOG")
        return self.catalog_path

    def open(self, **kwargs) -> Catalog:
        return Catalog.open(self.path(), **kwargs)


class ProductLensGroup(click.Group):
    """Turns productlens errors into a one-line message and exit code 1 (no traceback)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ProductLensError as exc:
            raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc


@click.group(cls=ProductLensGroup)
@click.option("--catalog", "catalog", type=click.Path(path_type=Path), envvar=settings.env_var("catalog"),
              help=f"Catalogue directory (or set {settings.env_var('catalog')}).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or summaries, errors only.")
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
@click.version_option(package_name="productlens")
@click.pass_context
def cli(ctx: click.Context, catalog: Path | None, quiet: bool, verbose: int) -> None:
    """Visual product search: build a catalogue from product photos, then search it by photo."""
    level = logging.ERROR if quiet else [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = State(catalog, quiet, verbose)


def main() -> None:
    cli(prog_name="productlens")


from . import catalog_cmds, datasets_cmd, index_cmds, search_cmds, serve_cmd, text_cmds, train_cmds  # noqa: E402,F401  (registers the commands)

