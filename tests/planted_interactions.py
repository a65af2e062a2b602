"""A small synthetic interaction log with planted structure: users belong to item groups of
unequal popularity and walk through their group's items in a fixed cyclic order, so co-occurrence,
factors and sequence all carry signal a model can find (and a random ranking cannot)."""

from __future__ import annotations

import numpy as np

from productlens.recommend import InteractionLog

GROUPS, GROUP_SIZE, EVENTS = 12, 10, 8


def planted_log(users: int = 360, seed: int = 0) -> InteractionLog:
    rng = np.random.default_rng(seed)
    share = 1.0 / np.arange(1, GROUPS + 1)
    user_ids, item_ids = [], []
    for user in range(users):
        group = rng.choice(GROUPS, p=share / share.sum())
        start = rng.integers(GROUP_SIZE)
        for step in range(EVENTS):
            item = group * GROUP_SIZE + (start + step) % GROUP_SIZE
            user_ids.append(f"u{user}")
            item_ids.append(f"p{item:03d}")
    return InteractionLog.from_events(user_ids, item_ids, timestamps=np.arange(len(user_ids), dtype=float))
