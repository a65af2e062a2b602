"""SASRec (Kang & McAuley, ICDM 2018): a causal self-attention network over each user's last
`max_length` items predicts the next one. Trained in torch on the CPU with a sampled softmax
(the positive against shared uniform negatives), which climbs faster per epoch on Video.txt than
the paper's one-negative binary loss (kept as loss="bce"). Folding in is free: it reads the history.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import RecommenderError
from .base import Monitor, Recommender, time_left
from .log import InteractionLog
from .registry import register_recommender

log_ = logging.getLogger(__name__)
CATCH_UP_EPOCHS = 2  # epochs over the held-out events too, after the fit the budget allowed
LOSSES = ("softmax", "bce")  # sampled softmax over shared negatives; the paper's binary loss, one negative each


def padded_tails(histories: Sequence[np.ndarray], length: int) -> np.ndarray:
    """Each history's last `length` item codes shifted by +1 (0 pads on the left), (n, length) int64."""
    out = np.zeros((len(histories), length), np.int64)
    for row, h in enumerate(histories):
        tail = h[-length:]
        if len(tail):
            out[row, length - len(tail):] = tail + 1
    return out


def _length_batches(inputs, batch: int, rng: np.random.Generator) -> list:
    """Rows in batches of similar history length (little padding), the batches in random order."""
    import torch

    lengths = (inputs > 0).sum(1).numpy()
    order = np.lexsort((rng.random(len(lengths)), lengths))
    batches = [torch.from_numpy(order[i:i + batch]) for i in range(0, len(order), batch)]
    return [batches[i] for i in rng.permutation(len(batches))]


def _adam(parameters, learning_rate: float):
    """Adam with the paper's betas; torch's fused CPU kernel where it has one (4x cheaper steps here:
    the dense update of the item table is a quarter of a batch's time otherwise)."""
    import torch

    parameters = list(parameters)
    try:
        return torch.optim.Adam(parameters, lr=learning_rate, betas=(0.9, 0.98), fused=True)
    except (RuntimeError, ValueError):  # torch < 2.4 has no fused Adam on the CPU
        return torch.optim.Adam(parameters, lr=learning_rate, betas=(0.9, 0.98))


def _network(n_items: int, dim: int, max_length: int, blocks: int, heads: int, dropout: float):
    """The SASRec network (built lazily: importing this module must not import torch)."""
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attention_norm = nn.LayerNorm(dim, eps=1e-8)
            self.attention = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
            self.forward_norm = nn.LayerNorm(dim, eps=1e-8)
            self.feed_forward = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Dropout(dropout),
                                              nn.Linear(dim, dim), nn.Dropout(dropout))

        def forward(self, x, causal, keep):
            q = self.attention_norm(x)
            attended, _ = self.attention(q, x, x, attn_mask=causal, need_weights=False)
            x = q + attended
            x = self.forward_norm(x)
            x = (x + self.feed_forward(x)) * keep
            return x

    class SASRecNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.items = nn.Embedding(n_items + 1, dim, padding_idx=0)
            self.positions = nn.Embedding(max_length, dim)
            self.dropout = nn.Dropout(dropout)
            self.blocks = nn.ModuleList(Block() for _ in range(blocks))
            self.last_norm = nn.LayerNorm(dim, eps=1e-8)
            self.register_buffer("causal", torch.triu(torch.ones(max_length, max_length, dtype=torch.bool), 1))
            nn.init.normal_(self.items.weight, std=dim ** -0.5)

        def forward(self, seq):  # (B, L) item codes + 1, 0 = left padding -> (B, L, dim)
            length = seq.shape[1]
            pad = seq == 0
            keep = (~pad).unsqueeze(-1).float()
            # Positions count back from the last event, so a batch cut to its longest history
            # means the same as one padded to max_length.
            x = self.items(seq) * dim ** 0.5 + self.positions.weight[max_length - length:][None]
            x = self.dropout(x) * keep
            # Causal, padding never attended to; every position may see itself (no empty softmax row).
            blocked = self.causal[:length, :length][None] | pad[:, None, :]
            blocked = blocked & ~torch.eye(length, dtype=torch.bool)[None]
            blocked = blocked.repeat_interleave(heads, dim=0)
            for block in self.blocks:
                x = block(x, blocked, keep)
            return self.last_norm(x)

    return SASRecNet()


class SASRec(Recommender):
    name = "sasrec"

    # The paper's settings for the sparse Amazon sets (d 50, 2 blocks, 1 head, dropout 0.5, last 50
    # events, batch 128) with a doubled learning rate; chosen on Video.txt's validation items
    # (docs/recommendations.md): dropout 0.3 rises faster but levels off lower.
    def __init__(self, dim: int = 50, max_length: int = 50, blocks: int = 2, heads: int = 1, dropout: float = 0.5,
                 learning_rate: float = 2e-3, batch_size: int = 128, loss: str = "softmax", negatives: int = 128,
                 epochs: int = 200, eval_every: int = 1, patience: int = 10, threads: int = 1, seed: int = 0,
                 **params: object) -> None:
        super().__init__(dim=dim, max_length=max_length, blocks=blocks, heads=heads, dropout=dropout,
                         learning_rate=learning_rate, batch_size=batch_size, loss=loss, negatives=negatives,
                         epochs=epochs, eval_every=eval_every, patience=patience, threads=threads, seed=seed, **params)
        if loss not in LOSSES:
            raise RecommenderError(f"unknown SASRec loss {loss!r}; choose from {', '.join(LOSSES)}")
        self.history: list[dict[str, float]] = []  # per checked epoch: epoch, loss, validation, seconds

    def fit(self, log: InteractionLog, *, deadline: float | None = None, monitor: Monitor | None = None) -> None:
        import torch

        p = self.params
        torch.set_num_threads(int(p["threads"]))
        torch.manual_seed(int(p["seed"]))
        rng = np.random.default_rng(int(p["seed"]))
        self.n_items = log.n_items
        self.net = _network(log.n_items, int(p["dim"]), int(p["max_length"]), int(p["blocks"]), int(p["heads"]),
                            float(p["dropout"]))
        sequences = [s for s in log.sequences() if len(s) >= 2]
        tails = torch.from_numpy(padded_tails(sequences, int(p["max_length"]) + 1))
        inputs, targets = tails[:, :-1], tails[:, 1:]
        optimiser = _adam(self.net.parameters(), float(p["learning_rate"]))
        best, best_state, bad_checks, started = -np.inf, None, 0, time.monotonic()
        epoch_seconds = 0.0
        for epoch in range(1, int(p["epochs"]) + 1):
            if time_left(deadline) < epoch_seconds * 1.2 + 5:
                break
            t0 = time.monotonic()
            loss = self._epoch(inputs, targets, optimiser, rng)
            epoch_seconds = time.monotonic() - t0
            if monitor is None or epoch % int(p["eval_every"]):
                continue
            score = monitor(self)
            epoch_seconds = time.monotonic() - t0  # the check is part of the next epoch's cost too
            self.history.append({"epoch": epoch, "loss": loss, "validation": score,
                                 "seconds": round(time.monotonic() - started, 1)})
            log_.info("sasrec epoch %d loss %.4f validation %.4f", epoch, loss, score)
            if score > best:
                best, best_state, bad_checks = score, copy.deepcopy(self.net.state_dict()), 0
            else:
                bad_checks += 1
                if bad_checks >= int(p["patience"]):
                    break
        if best_state is not None:
            self.net.load_state_dict(best_state)
        self.net.eval()

    def catch_up(self, log: InteractionLog, *, deadline: float | None = None) -> bool:
        """`catch_up_epochs` more epochs over `log` (the fit's events plus the held-out ones), stopping
        at `deadline`: on Video.txt two such epochs after the budget's fit raised the test item's
        NDCG@10 by ~0.03 (docs/recommendations.md), as the test event follows the held-out one."""
        import torch

        p = self.params
        torch.set_num_threads(int(p["threads"]))
        tails = torch.from_numpy(padded_tails([s for s in log.sequences() if len(s) >= 2], int(p["max_length"]) + 1))
        optimiser = _adam(self.net.parameters(), float(p["learning_rate"]))
        rng = np.random.default_rng(int(p["seed"]) + 1)
        done, epoch_seconds = 0, 0.0
        while done < int(p.get("catch_up_epochs", CATCH_UP_EPOCHS)) and time_left(deadline) > epoch_seconds * 1.2:
            t0 = time.monotonic()
            self._epoch(tails[:, :-1], tails[:, 1:], optimiser, rng)
            done, epoch_seconds = done + 1, time.monotonic() - t0
        self.net.eval()
        self.caught_up_epochs = done
        return done > 0

    def __getstate__(self) -> dict[str, Any]:
        """Pickled as parameters and weights: the network class is built inside a function."""
        state = dict(self.__dict__)
        net = state.pop("net", None)
        if net is not None:
            state["weights"] = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        import torch

        weights = state.pop("weights", None)
        self.__dict__.update(state)
        if weights is not None:
            p = self.params
            self.net = _network(self.n_items, int(p["dim"]), int(p["max_length"]), int(p["blocks"]), int(p["heads"]),
                                float(p["dropout"]))
            self.net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
            self.net.eval()

    def refit_params(self) -> dict[str, Any]:
        """The refit runs for the epoch count that scored best on validation."""
        best = max(self.history, key=lambda h: h["validation"], default=None)
        return {**self.params, "epochs": int(best["epoch"]) if best else self.params["epochs"]}

    def _epoch(self, inputs, targets, optimiser, rng: np.random.Generator) -> float:
        import torch
        import torch.nn.functional as F

        self.net.train()
        batch, total, steps = int(self.params["batch_size"]), 0.0, 0
        for rows in _length_batches(inputs, batch, rng):
            length = int((inputs[rows] > 0).sum(1).max())
            seq, pos = inputs[rows, -length:], targets[rows, -length:]
            hidden = self.net(seq)  # (B, L, d)
            valid = pos > 0
            h = hidden[valid]  # (N, d)
            positive = pos[valid]
            table = self.net.items.weight
            pos_logits = (h * table[positive]).sum(-1, keepdim=True)
            if self.params.get("loss") == "bce":  # the paper's: one uniform negative per position
                negatives = torch.from_numpy(rng.integers(1, self.n_items + 1, len(positive)))
                neg_logits = (h * table[negatives]).sum(-1, keepdim=True)
                loss = F.softplus(-pos_logits).mean() + F.softplus(neg_logits).mean()
            else:
                negatives = torch.from_numpy(rng.integers(1, self.n_items + 1, int(self.params["negatives"])))
                neg_logits = h @ table[negatives].T
                neg_logits = neg_logits.masked_fill(negatives[None, :] == positive[:, None], -1e9)
                logits = torch.cat([pos_logits, neg_logits], dim=1)
                loss = F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total, steps = total + float(loss.detach()), steps + 1
        return total / max(steps, 1)

    def hidden(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """The network's state after each history's last event, (n, dim)."""
        import torch

        torch.set_num_threads(int(self.params["threads"]))  # one sequence is small: a thread pool only waits
        with torch.inference_mode():
            self.net.eval()
            length = max(1, min(int(self.params["max_length"]), max(len(h) for h in histories)))
            seq = torch.from_numpy(padded_tails(histories, length))
            return self.net(seq)[:, -1].numpy()

    def score(self, users: np.ndarray, histories: Sequence[np.ndarray]) -> np.ndarray:
        if not len(histories):
            return np.zeros((0, self.n_items), np.float32)
        return self.hidden(histories) @ self.item_vectors().T

    def item_vectors(self) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.net.items.weight[1:].numpy()

    def user_vectors(self, users: np.ndarray, histories: Sequence[np.ndarray]) -> np.ndarray:
        return self.hidden(histories)

    def score_candidates(self, users: np.ndarray, histories: Sequence[np.ndarray],
                         candidates: np.ndarray) -> np.ndarray:
        return np.einsum("nd,ncd->nc", self.hidden(histories), self.item_vectors()[candidates])


register_recommender("sasrec", SASRec, description="self-attentive sequential model (torch, CPU)", sequential=True,
                     cost=9)
