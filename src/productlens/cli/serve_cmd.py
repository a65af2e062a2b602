"""`productlens serve`: the REST API and web page for one catalogue."""

from __future__ import annotations

import click

from .. import settings
from .main import State, catalog_options, cli

SHUTDOWN_GRACE_S = 3.0  # how long a stopping server lets running requests finish


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--api-key", envvar=settings.env_var("api_key"),
              help=f"Key that writes need (X-API-Key header); without one the server is read-only. "
                   f"Env: {settings.env_var('api_key')}.")
@click.option("--read-key", envvar=settings.env_var("read_key"),
              help=f"If set, reads need this key (or the API key) too. Env: {settings.env_var('read_key')}.")
@click.option("--max-upload-mb", type=click.FloatRange(0.01, 1024), default=20.0, show_default=True,
              help="Largest image upload accepted.")
@click.option("--max-batch", type=click.IntRange(0, 256), default=0, show_default=True,
              help="Micro-batching: most concurrent queries embedded in one model call (0: off, each request runs the model).")
@catalog_options
def serve(state: State, host: str, port: int, api_key: str | None, read_key: str | None, max_upload_mb: float,
          max_batch: int) -> None:
    """Serve the catalogue: REST API (OpenAPI at /docs) and the web page at /."""
    try:
        import uvicorn

        from ..api import create_app
    except ImportError as exc:
        raise click.ClickException(f"serving needs the 'serve' extra (pip install 'productlens[serve]'): {exc}") from exc
    path = state.path()
    state.open().close()  # a missing catalogue fails here with a one-line message
    app = create_app(path, api_key=api_key or None, read_key=read_key or None,
                     max_upload_bytes=int(max_upload_mb * 1024 * 1024), max_batch=max_batch)
    if not state.quiet:
        click.echo(f"serving {path} on http://{host}:{port}/ ({'writes need the API key' if api_key else 'read-only'})")
    # On SIGTERM/SIGINT, requests still running after SHUTDOWN_GRACE_S are answered 503 and the
    # process exits (uvicorn would otherwise wait for them however long they take).
    uvicorn.run(app, host=host, port=port, log_level="warning" if state.quiet else "info",
                timeout_graceful_shutdown=SHUTDOWN_GRACE_S)
