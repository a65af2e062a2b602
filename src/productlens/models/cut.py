"""Cutting an exported network after one of its blocks: the front part's activations are what the
`partial` training recipe learns from, while torch trains the blocks after the cut."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from ..errors import ModelError
from .export import INPUT_NAME

_BLOCK = re.compile(r"_blocks\.(\d+)/")


def block_outputs(onnx_path: Path) -> list[str]:
    """The tensor each MBConv block (`_blocks.N` in the exported graph) ends with, in block order."""
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    last: dict[int, str] = {}
    for node in graph.node:  # nodes are stored in topological order: a block's last node comes last
        match = _BLOCK.search(node.name)
        if match and node.output:
            last[int(match.group(1))] = node.output[0]
    if not last:
        raise ModelError(f"{onnx_path.name} has no `_blocks.N` nodes: it cannot be cut at a block")
    return [last[i] for i in sorted(last)]


def front_graph(onnx_path: Path, tensor: str, out_path: Path) -> Path:
    """The network from its input up to `tensor`, written once (atomically) to `out_path`."""
    import onnx.utils

    if out_path.exists():
        return out_path
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=out_path.name + ".", suffix=".tmp", dir=out_path.parent)
    os.close(fd)
    try:
        onnx.utils.extract_model(str(onnx_path), tmp, [INPUT_NAME], [tensor])
        os.replace(tmp, out_path)
    except Exception as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ModelError(f"cutting {onnx_path.name} at {tensor} failed: {exc}") from exc
    return out_path


CUTS = ("deep", "mid", "shallow")  # where the partial recipe may cut, most trained blocks first


def stage_ends(onnx_path: Path) -> list[int]:
    """The index of each stage's last block but the network's last one. A stage's first block
    changes the width or the stride, so it has no residual `Add`; the block before it ends a stage."""
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    residual = {int(m.group(1)) for node in graph.node if node.op_type == "Add"
                for m in [_BLOCK.search(node.name)] if m}
    n = len(block_outputs(onnx_path))
    return [i - 1 for i in range(1, n) if i not in residual]


def cut_points(onnx_path: Path) -> dict[str, int]:
    """Named cuts, each the block index the front graph ends with (the blocks after it train):
    deep = the end of the third-last stage, mid = of the second-last, shallow = two blocks before
    the end. On efficientnet-lite0: after blocks 8, 11 and 14 (counting from 1), training the
    last 8, 5 and 2 blocks; on lite1/lite2 (21 blocks): after 11, 15 and 19."""
    ends = stage_ends(onnx_path)
    n = len(block_outputs(onnx_path))
    if len(ends) < 3 or n < 4:
        raise ModelError(f"{onnx_path.name} has too few stages ({len(ends) + 1}) to cut deep into")
    return {"deep": ends[-3], "mid": ends[-2], "shallow": n - 3}
