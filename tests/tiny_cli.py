"""`python tests/tiny_cli.py ARGS...`: the real productlens CLI, with the tiny test network
(tests/tiny.py) registered, for tests that run a command in its own process and kill it."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tiny.py, when run as a script

from tiny import register_tiny_model  # noqa: E402

from productlens import settings  # noqa: E402
from productlens.cli import cli  # noqa: E402

if __name__ == "__main__":
    register_tiny_model(Path(str(settings.get("cache_dir"))))
    cli(prog_name="productlens")
