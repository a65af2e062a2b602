"""The CLI as a separate process with stdout and stderr going to pipes, as in `productlens ... | head`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]

# `python -m productlens`, with the fast tier's tiny network registered first (it lives in tests/tiny.py).
MAIN = ("import sys; from pathlib import Path; import tiny; tiny.register_tiny_model(Path(sys.argv.pop(1)));"
        "from productlens.cli import main; sys.argv[0] = 'productlens'; main()")

Piped = Callable[..., subprocess.CompletedProcess]


@pytest.fixture(scope="session")
def piped(model_cache, tiny_model) -> Piped:
    """Run `productlens ARGS` in a new process, stdout and stderr to pipes; returns the finished process."""

    def run(*args: object, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
                       "PRODUCTLENS_CACHE_DIR": str(model_cache), **(env or {})}
        environment.pop("COLUMNS", None)  # rich would take it as the width of the pipe
        return subprocess.run([sys.executable, "-c", MAIN, str(model_cache), *map(str, args)], capture_output=True,
                              text=True, env=environment, stdin=subprocess.DEVNULL, timeout=timeout)

    return run
