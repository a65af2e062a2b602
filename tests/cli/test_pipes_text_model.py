"""The sentence model's first load through a pipe: transformers' "Loading weights" tqdm bar must
not reach stderr (it did, against the README's promise of bars on a terminal only)."""

from __future__ import annotations

import pytest


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
