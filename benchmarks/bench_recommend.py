"""Recommendations on Amazon Video Games (Video.txt), the SASRec protocol, every model side by side.

    nice -n 10 python benchmarks/bench_recommend.py [--budget 600] [--data PATH]

Protocol (Kang & McAuley 2018, see ../shared/datasets/README.md): per user, the last item is the
test item, the one before it the validation item; the test item is ranked against 100 items
sampled uniformly among those the user never touched (and, second, against all items).
One run of the default `recommend fit` (every registered model fitted on the training events,
chosen on the validation item within the budget) gives every model's row: popularity is the
baseline measured in the same run. Also printed: each model's fit time, the whole choice's time,
and the p50 latency of recommending 10 items to one user (score, drop seen items, top 10).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from productlens.recommend import InteractionLog, evaluate, leave_last_out
from productlens.recommend.choose import choose_recommender

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "amazon-video-games" / "Video.txt"
PUBLISHED = {"sasrec (published)": (0.7410, 0.5360)}


def load(path: Path) -> InteractionLog:
    pairs = np.loadtxt(path, dtype=np.int64)
    return InteractionLog.from_events(pairs[:, 0], pairs[:, 1])  # lines are in time order per user


def latency_ms(model, history: InteractionLog, users: np.ndarray, k: int = 10) -> float:
    """p50 milliseconds to recommend `k` unseen items to one user."""
    sequences = history.sequences()
    times = []
    for u in users:
        t0 = time.perf_counter()
        scores = model.score(np.array([u]), [sequences[u]])[0]
        scores[sequences[u]] = -np.inf
        top = np.argpartition(-scores, k)[:k]
        top[np.argsort(-scores[top])]
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--budget", type=float, default=600.0, help="seconds for the whole model choice (default 10 min)")
    ap.add_argument("--models", default=None, help="comma-separated model names (default: every registered one)")
    args = ap.parse_args()
    print(f"load average at start: {open('/proc/loadavg').read().split()[:3]}  (cores: {os.cpu_count()})")
    log = load(args.data)
    split = leave_last_out(log)
    print(f"{log.n_users} users, {log.n_items} items, {len(log)} events; {len(split.test)} test users")
    t0 = time.monotonic()
    choice = choose_recommender(split.train_and_validation, budget_s=args.budget, keep_all=True,
                                models=args.models.split(",") if args.models else None)
    choice_s = time.monotonic() - t0
    rng = np.random.default_rng(0)
    latency_users = rng.choice(split.test.users, 200, replace=False)
    rows = []
    models = {**choice.fitted, f"default fit -> {choice.name}": choice.model}
    seconds = {c.name: c.fit_seconds for c in choice.candidates}
    seconds[f"default fit -> {choice.name}"] = choice_s
    for name, model in models.items():
        result = evaluate(model, split.train_and_validation, split.test, everything=log)
        rows.append((name, result.sampled.hr, result.sampled.ndcg, result.full.hr, result.full.ndcg,
                     seconds[name], latency_ms(model, split.train_and_validation, latency_users)))
    print(f"\n{'model':<28}{'HR@10':>8}{'NDCG@10':>9}{'HR@10 all':>11}{'NDCG all':>10}{'fit s':>8}{'p50 ms':>8}")
    for name, hr, ndcg, fhr, fndcg, fit_s, p50 in rows:
        print(f"{name:<28}{hr:>8.4f}{ndcg:>9.4f}{fhr:>11.4f}{fndcg:>10.4f}{fit_s:>8.1f}{p50:>8.2f}")
    for name, (hr, ndcg) in PUBLISHED.items():
        print(f"{name:<28}{hr:>8.4f}{ndcg:>9.4f}{'':>11}{'':>10}{'':>8}{'':>8}")
    print(f"\nchosen on validation: {choice.name} (refitted on all training events: {choice.refitted}); "
          f"candidates: {[c.to_dict() for c in choice.candidates]}")
    print(f"load average at end: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()
