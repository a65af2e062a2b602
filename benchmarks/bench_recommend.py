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
import logging
import os
from pathlib import Path

import numpy as np

from productlens.recommend import InteractionLog, leave_last_out
from productlens.recommend.choose import MONITOR_USERS
from productlens.recommend.compare import compare_recommenders

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "amazon-video-games" / "Video.txt"
PUBLISHED = {"sasrec (published)": (0.7410, 0.5360)}


def load(path: Path) -> InteractionLog:
    pairs = np.loadtxt(path, dtype=np.int64)
    return InteractionLog.from_events(pairs[:, 0], pairs[:, 1])  # lines are in time order per user


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--budget", type=float, default=600.0, help="seconds for the whole model choice (default 10 min)")
    ap.add_argument("--models", default=None, help="comma-separated model names (default: every registered one)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    print(f"load average at start: {open('/proc/loadavg').read().split()[:3]}  (cores: {os.cpu_count()})")
    log = load(args.data)
    split = leave_last_out(log)
    print(f"{log.n_users} users, {log.n_items} items, {len(log)} events; {len(split.test)} test users")
    rows, choice = compare_recommenders(log, budget_s=args.budget,
                                        models=args.models.split(",") if args.models else None)
    print(f"\n{'model':<28}{'HR@10':>8}{'NDCG@10':>9}{'HR@10 all':>11}{'NDCG all':>10}{'fit s':>8}{'p50 ms':>8}")
    for r in rows:
        print(f"{r.name:<28}{r.hr:>8.4f}{r.ndcg:>9.4f}{r.hr_all:>11.4f}{r.ndcg_all:>10.4f}{r.fit_seconds:>8.1f}"
              f"{r.p50_ms:>8.2f}")
    for name, (hr, ndcg) in PUBLISHED.items():
        print(f"{name:<28}{hr:>8.4f}{ndcg:>9.4f}{'':>11}{'':>10}{'':>8}{'':>8}")
    print(f"\nchosen on validation: {choice.name} (refitted on all training events: {choice.refitted}; "
          f"caught up on the held-out events: {choice.caught_up}); "
          f"candidates: {[c.to_dict() for c in choice.candidates]}")
    for name, model in choice.fitted.items():  # how far the budget let a model that trains by epochs go
        history = getattr(model, "history", None)
        if history:
            best = max(history, key=lambda h: h["validation"])
            print(f"{name}: {len(history)} epochs in {history[-1]['seconds']:.0f} s, best validation NDCG@10 "
                  f"{best['validation']:.4f} at epoch {best['epoch']} (monitor: {MONITOR_USERS} validation users)")
    print(f"load average at end: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()
