"""The command group, global options and error handling; commands live in sibling modules."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .. import settings
from ..catalog.database import as_storage_error
from ..engine import Catalog
from ..errors import ProductLensError
from .output import silence_library_progress


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
    operating-system or SQLite error that reached this far (a StorageError naming the file). The
    error's class name is shown only with -v."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ProductLensError as exc:
            raise click.ClickException(_message(ctx, exc)) from exc
        except BrokenPipeError:
            raise
        except (OSError, sqlite3.Error) as exc:
            state = ctx.obj if isinstance(ctx.obj, State) else None
            where = state.catalog_path if state is not None and state.catalog_path is not None else Path.cwd()
            raise click.ClickException(_message(ctx, as_storage_error(exc, where, "use"))) from exc


def _message(ctx: click.Context, error: Exception) -> str:
    verbose = getattr(ctx.obj, "verbose", 0)
    return f"{type(error).__name__}: {error}" if verbose else str(error)


def catalog_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Pass the State to a command, and accept `--catalog` and `-q` after the command name as
    well as before it (`productlens search --catalog ./shop snap.jpg`)."""
    command = click.make_pass_decorator(State)(command)
    command = click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_set_quiet,
                           help="No summaries or progress bars, errors only (also before the command).")(command)
    return click.option("--catalog", type=click.Path(path_type=Path), expose_value=False, callback=_set_catalog,
                        help="Catalogue directory (also before the command).")(command)


def _set_catalog(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.find_object(State).catalog_path = value


def _set_quiet(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.find_object(State).quiet = True
        logging.getLogger().setLevel(logging.ERROR)
        silence_library_progress(quiet=True)


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
    silence_library_progress(quiet)
    ctx.obj = State(catalog, quiet, verbose)


def main() -> None:
    cli(prog_name="productlens")


from . import (  # noqa: E402,F401  (registers the commands)
    catalog_cmds, datasets_cmd, detect_cmds, embed_cmds, export_cmd, index_cmds, recommend_cmds, search_cmds, serve_cmd,
    text_cmds, train_cmds,
)

