"""The leave-last-out split (Kang & McAuley's SASRec protocol): per user, the last event is the
test item, the one before it the validation item, the rest training. Users with fewer than three
events keep everything in training and are not evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .log import InteractionLog


@dataclass(frozen=True)
class HeldOut:
    """One held-out event per evaluated user: the user code and the item to be found."""

    users: np.ndarray
    items: np.ndarray

    def __len__(self) -> int:
        return len(self.users)


@dataclass(frozen=True)
class Split:
    """Training events, the validation and test targets, and what each target may be predicted from."""

    train: InteractionLog  # everything but the held-out events
    validation: HeldOut  # predicted from `train`
    test: HeldOut  # predicted from `train` + the validation events
    train_and_validation: InteractionLog


def hold_out_last(log: InteractionLog, *, min_events: int = 2) -> tuple[InteractionLog, HeldOut]:
    """Take each user's last event out (users with at least `min_events` events)."""
    starts = log.user_starts()
    counts = np.diff(starts)
    users = np.flatnonzero(counts >= min_events)
    last_rows = starts[users + 1] - 1
    keep = np.ones(len(log), bool)
    keep[last_rows] = False
    return log.take(keep), HeldOut(users.astype(np.int32), log.items[last_rows])


def leave_last_out(log: InteractionLog) -> Split:
    """Split per the protocol; the log must be sorted by user and time (InteractionLog.sorted)."""
    before_test, test = hold_out_last(log, min_events=3)
    # Only users that gave a test event give a validation event too.
    starts = before_test.user_starts()
    last_rows = starts[test.users + 1] - 1
    keep = np.ones(len(before_test), bool)
    keep[last_rows] = False
    validation = HeldOut(test.users, before_test.items[last_rows])
    return Split(before_test.take(keep), validation, test, before_test)
