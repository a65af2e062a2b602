"""The projection head and the metric-learning losses (torch, imported by the caller).

Head: L2-normalised backbone features -> dropout -> linear (optionally one hidden layer) ->
L2-normalised embedding. Each product has a learnt proxy; the loss is a normalised softmax over
cosine(embedding, proxy) * scale (ArcFace adds an angular margin to the true class). The proxies
double as the classifier used for recognition, and a second set of proxies, one per category,
gives the coarse prediction.
"""

from __future__ import annotations

from typing import Any

LOSSES = ("norm-softmax", "arcface")


def build_head(in_dim: int, dim: int, n_classes: int, n_coarse: int, hidden: int = 0, dropout: float = 0.1) -> Any:
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Head(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.dropout = nn.Dropout(dropout)
            if hidden:
                self.proj = nn.Sequential(nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                                          nn.Linear(hidden, dim))
            else:
                self.proj = nn.Linear(in_dim, dim)
            self.proxies = nn.Parameter(torch.randn(n_classes, dim) * 0.05)
            self.coarse = nn.Parameter(torch.randn(max(n_coarse, 1), dim) * 0.05)

        def forward(self, features: torch.Tensor) -> torch.Tensor:
            x = F.normalize(features, dim=-1)
            return F.normalize(self.proj(self.dropout(x)), dim=-1)

    return Head()


def proxy_loss(embeddings: Any, proxies: Any, labels: Any, *, scale: float, margin: float, loss: str,
               label_smoothing: float) -> tuple[Any, Any]:
    """(loss, logits) of a normalised-softmax / ArcFace loss against learnt proxies."""
    import torch
    from torch.nn import functional as F

    cos = embeddings @ F.normalize(proxies, dim=-1).T
    logits = cos
    if loss == "arcface" and margin > 0:
        theta = torch.acos(cos.clamp(-1 + 1e-6, 1 - 1e-6))
        target = torch.cos(theta + margin)
        onehot = F.one_hot(labels, cos.shape[1]).bool()
        logits = torch.where(onehot, target, cos)
    value = F.cross_entropy(scale * logits, labels, label_smoothing=label_smoothing)
    return value, cos


def combined(backbone: Any, head: Any) -> Any:
    """backbone + head as one torch module, in eval mode (what a version exports to ONNX)."""
    from torch import nn

    class Combined(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone, self.head = backbone, head

        def forward(self, x):
            return self.head(self.backbone(x))

    return Combined().eval()
