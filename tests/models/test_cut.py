"""Cutting the exported network at a block: the front graph computes exactly what torch's
first blocks compute (the partial recipe trains the rest on it)."""

from __future__ import annotations

import numpy as np
import pytest

from productlens.models import create_embedder
from productlens.models.cut import block_outputs, front_graph
from productlens.models.efficientnet import build_lite
from productlens.models.embedder import open_session
from productlens.models.export import INPUT_NAME
from productlens.models.registry import get_spec, list_embedders


def test_front_graph_matches_the_torch_blocks(lite0, grocery_images, tmp_path):
    import torch

    outputs = block_outputs(lite0.onnx_path)
    assert len(outputs) == 16 and len(set(outputs)) == 16  # efficientnet-lite0 has 16 MBConv blocks
    front = front_graph(lite0.onnx_path, outputs[13], tmp_path / "front.onnx")
    again = front_graph(lite0.onnx_path, outputs[13], tmp_path / "front.onnx")
    assert again == front and not list(tmp_path.glob("*.tmp"))
    batch = np.stack([lite0.prepare(image) for image in grocery_images["golden"][:2]])
    (cut,) = open_session(front).run(None, {INPUT_NAME: batch})
    features = build_lite("efficientnet-lite0")
    blocks = dict(features.net.named_children())["_blocks"]
    seen = []
    blocks[13].register_forward_hook(lambda module, args, out: seen.append(out.numpy()))
    with torch.no_grad():
        features(torch.from_numpy(batch))
    assert cut.shape == seen[0].shape == (2, 192, 7, 7)
    np.testing.assert_allclose(cut, seen[0], atol=1e-3)


def test_a_network_without_blocks_cannot_be_cut(tmp_path):
    import pytest
    from tiny import write_pooling_network

    from productlens.errors import ModelError

    with pytest.raises(ModelError, match="cannot be cut"):
        block_outputs(write_pooling_network(tmp_path / "tiny.onnx"))
    assert get_spec("efficientnet-lite0").dim == create_embedder("efficientnet-lite0").dim


LITES = [name for name in list_embedders() if name.startswith("efficientnet-lite")]


@pytest.mark.parametrize("name", LITES)
def test_every_cut_point_of_every_registered_backbone_continues_in_torch(name, grocery_images):
    """At each named cut, the front graph's activations run through the blocks torch trains
    (efficientnet.trainable_tail) give the whole network's features: the cut is where training
    thinks it is, for every registered backbone."""
    import torch

    from productlens.models.cut import CUTS, cut_points
    from productlens.models.efficientnet import trainable_tail

    embedder = create_embedder(name)
    outputs = block_outputs(embedder.onnx_path)
    points = cut_points(embedder.onnx_path)
    assert list(points) == list(CUTS) and points["deep"] < points["mid"] < points["shallow"] == len(outputs) - 3
    if name == "efficientnet-lite0":
        assert points == {"deep": 7, "mid": 10, "shallow": 13}  # after blocks 8, 11 and 14, counting from 1
    batch = np.stack([embedder.prepare(grocery_images["golden"][0])])
    network = build_lite(name)
    with torch.no_grad():
        whole = network(torch.from_numpy(batch)).numpy()
    for cut, index in points.items():
        front = front_graph(embedder.onnx_path, outputs[index], embedder.onnx_path.with_name(f"{name}.{cut}.onnx"))
        (acts,) = open_session(front).run(None, {INPUT_NAME: batch})
        *blocks, conv_head, bn = trainable_tail(network, len(outputs) - index - 1)
        x = torch.from_numpy(acts)
        with torch.no_grad():
            for block in blocks:
                x = block(x)
            tail = torch.nn.functional.relu6(bn(conv_head(x))).mean(dim=(2, 3)).numpy()
        np.testing.assert_allclose(tail, whole, atol=2e-3, err_msg=f"{name} cut {cut}")
