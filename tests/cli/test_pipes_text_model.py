"""The sentence model's first load through a pipe: transformers' "Loading weights" tqdm bar must
not reach stderr (it did, against the README's promise of bars on a terminal only)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]


def test_no_library_progress_bar_when_piped(piped, fast_catalog, model_cache, tmp_path):
    pytest.importorskip("transformers")
    fresh = tmp_path / "cache"  # no exported text model yet, so this run loads MiniLM's weights and exports it
    fresh.mkdir()
    (fresh / "onnx").symlink_to(model_cache / "onnx")
    found = piped("--catalog", fast_catalog, "search", "--text", "red blue", "-k", "1", "--format", "csv",
                  env={"PRODUCTLENS_CACHE_DIR": str(fresh)}, timeout=300)
    assert found.returncode == 0, found.stderr
    assert (fresh / "text" / "all-minilm-l6-v2.onnx").exists()  # the weights were loaded in this run
    assert found.stderr == ""  # no "Loading weights: 100%|███| 103/103" bar
    assert found.stdout.splitlines()[1].split(",")[2] == "red-blue"


def test_no_library_progress_bar_from_the_python_api(fast_catalog, model_cache, tmp_path):
    """`make demo` runs the Python API, not the CLI: the library itself must print nothing."""
    pytest.importorskip("transformers")
    fresh = tmp_path / "cache"
    fresh.mkdir()
    (fresh / "onnx").symlink_to(model_cache / "onnx")
    script = ("import sys, tiny; from pathlib import Path; tiny.register_tiny_model(Path(sys.argv[1]));"
              "from productlens import Catalog; shop = Catalog.open(sys.argv[2]);"
              "print(shop.search_text('red blue', k=1)[0].product.id)")
    env = {**os.environ, "PRODUCTLENS_CACHE_DIR": str(fresh),
           "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", script, str(model_cache), str(fast_catalog)], capture_output=True,
                          text=True, env=env, stdin=subprocess.DEVNULL, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (fresh / "text" / "all-minilm-l6-v2.onnx").exists()
    assert "Loading weights" not in done.stderr and done.stdout == "red-blue\n"
