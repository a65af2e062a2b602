"""The command group, global options and error handling; commands live in sibling modules."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import click

from .. import settings
from ..catalog.database import as_storage_error
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
    """Turns productlens errors into a one-line message and exit code 1 (no traceback); so too an
    operating-system or SQLite error that reached this far (a StorageError naming the file)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ProductLensError as exc:
            raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc
        except BrokenPipeError:
            raise
        except (OSError, sqlite3.Error) as exc:
            state = ctx.obj if isinstance(ctx.obj, State) else None
            where = state.catalog_path if state is not None and state.catalog_path is not None else Path.cwd()
            error = as_storage_error(exc, where, "use")
            raise click.ClickException(f"{type(error).__name__}: {error}") from exc


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

