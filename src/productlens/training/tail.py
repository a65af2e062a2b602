"""The trained part of the partial recipe as one torch module: the blocks after the cut, the
final 1x1 conv and its BatchNorm, pooling, and the head (torch is imported on first use)."""

from __future__ import annotations

from typing import Any

import numpy as np

EMBED_BATCH = 128


def tail_and_head(tail: list[Any], head: Any) -> Any:
    """activations (n, C, H, W) -> unit embeddings; `tail` as efficientnet.trainable_tail gives it.
    The tail's BatchNorm statistics stay frozen in training mode (a catalogue's few photos a
    product would only blur the ImageNet statistics the front was trained with)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    *blocks, conv_head, bn = tail

    class TailAndHead(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks, self.conv_head, self.bn, self.head = nn.ModuleList(blocks), conv_head, bn, head

        @property
        def proxies(self):
            return self.head.proxies

        @property
        def coarse(self):
            return self.head.coarse

        def tail_parameters(self) -> list[Any]:
            return [p for m in (*self.blocks, self.conv_head, self.bn) for p in m.parameters()]

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for block in self.blocks:
                x = block(x)
            return self.head(F.relu6(self.bn(self.conv_head(x))).mean(dim=(2, 3)))

        def train(self, mode: bool = True):
            super().train(mode)
            for module in (*self.blocks, self.conv_head, self.bn):
                module.eval()
            return self

        def embed(self, acts: Any, samples: list[Any]) -> np.ndarray:
            """Unit embeddings of the samples' plain view (`acts`: partial_recipe.Activations)."""
            self.eval()
            with torch.no_grad():
                return torch.cat([self(torch.from_numpy(acts.gather(samples[s: s + EMBED_BATCH])))
                                  for s in range(0, len(samples), EMBED_BATCH)]).numpy()

    return TailAndHead()
