"""Every model side by side under the leave-last-out protocol: one default model choice (each
candidate fitted on the training events, chosen on the validation item), then every candidate and
the chosen model scored on the test item. Shared by `productlens recommend eval` and the benchmark."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .base import Recommender, one_blas_thread
from .choose import DEFAULT_BUDGET_S, Choice, choose_recommender
from .evaluate import evaluate
from .log import InteractionLog
from .split import leave_last_out


@dataclass(frozen=True)
class ModelRow:
    """One model's test scores, fit time and single-user latency."""

    name: str
    hr: float
    ndcg: float
    hr_all: float
    ndcg_all: float
    fit_seconds: float
    p50_ms: float

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.name, "hr@10": round(self.hr, 4), "ndcg@10": round(self.ndcg, 4),
                "hr@10_all_items": round(self.hr_all, 4), "ndcg@10_all_items": round(self.ndcg_all, 4),
                "fit_seconds": round(self.fit_seconds, 1), "p50_ms": round(self.p50_ms, 2)}


def latency_ms(model: Recommender, history: InteractionLog, users: np.ndarray, k: int = 10) -> float:
    """p50 milliseconds to recommend `k` unseen items to one user (score, drop seen, top k)."""
    sequences = history.sequences()
    times = []
    for u in users:
        t0 = time.perf_counter()
        with one_blas_thread():  # as Catalog.recommend serves one user
            scores = model.score(np.array([u]), [sequences[u]])[0]
        scores[sequences[u]] = -np.inf
        top = np.argpartition(-scores, k)[:k]
        top[np.argsort(-scores[top])]
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000) if times else 0.0


def compare_recommenders(log: InteractionLog, *, models: Sequence[str] | None = None,
                         budget_s: float = DEFAULT_BUDGET_S, latency_users: int = 200,
                         seed: int = 0) -> tuple[list[ModelRow], Choice]:
    """Rows for every candidate and for the default choice (named `default fit -> NAME`)."""
    split = leave_last_out(log)
    t0 = time.monotonic()
    choice = choose_recommender(split.train_and_validation, models=models, budget_s=budget_s, keep_all=True,
                                seed=seed)
    choice_s = time.monotonic() - t0
    rng = np.random.default_rng(seed)
    timed = rng.choice(split.test.users, min(latency_users, len(split.test)), replace=False)
    fitted = {**choice.fitted, f"default fit -> {choice.name}": choice.model}
    seconds = {c.name: c.fit_seconds for c in choice.candidates} | {f"default fit -> {choice.name}": choice_s}
    rows = []
    for name, model in fitted.items():
        result = evaluate(model, split.train_and_validation, split.test, everything=log, seed=seed)
        full = result.full
        rows.append(ModelRow(name, result.sampled.hr, result.sampled.ndcg, full.hr if full else 0.0,
                             full.ndcg if full else 0.0, seconds[name],
                             latency_ms(model, split.train_and_validation, timed)))
    return rows, choice


def plot_rows(rows: Sequence[ModelRow], path: Path) -> Path:
    """A bar chart of HR@10 and NDCG@10 per model (PNG; matplotlib, the `train` extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(rows)), 4))
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r.hr for r in rows], 0.4, label="HR@10 (100 sampled)")
    ax.bar(x + 0.2, [r.ndcg for r in rows], 0.4, label="NDCG@10 (100 sampled)")
    ax.set_xticks(x, [r.name for r in rows], rotation=20, ha="right")
    ax.set_ylim(0, 1)
    ax.legend()
    ax.set_title("Recommenders, leave-last-out test")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
