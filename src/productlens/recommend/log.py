"""The interaction log: who did what to which product and when, as parallel numpy arrays.

Users and items are dense integer codes (0..n-1) so models can index matrices directly; the
external ids (strings) live beside them. Events are kept in time order per user, which the
leave-last-out split and the sequence models rely on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

NO_BASKET = -1


@dataclass(frozen=True)
class InteractionLog:
    """Events as arrays of equal length, sorted by (user, timestamp, original order)."""

    users: np.ndarray  # int32 user codes
    items: np.ndarray  # int32 item codes
    weights: np.ndarray  # float32 event weight (a purchase may count more than a view)
    timestamps: np.ndarray  # float64 seconds (or any increasing order number)
    baskets: np.ndarray  # int64 basket code, NO_BASKET when the event had none
    user_ids: np.ndarray = field(repr=False)  # object array: code -> external user id
    item_ids: np.ndarray = field(repr=False)  # object array: code -> external item id

    def __post_init__(self) -> None:
        n = len(self.users)
        if not all(len(a) == n for a in (self.items, self.weights, self.timestamps, self.baskets)):
            raise ValueError("interaction arrays differ in length")

    @classmethod
    def from_events(cls, users: Sequence[object], items: Sequence[object], *,
                    weights: Sequence[float] | None = None, timestamps: Sequence[float] | None = None,
                    baskets: Sequence[object] | None = None,
                    item_ids: Iterable[object] | None = None) -> InteractionLog:
        """A log from external ids; without timestamps the given order is the time order.

        `item_ids` fixes the item vocabulary (e.g. every catalogue product, interacted or not)."""
        user_ids, user_codes = np.unique(np.asarray(users, dtype=object).astype(str), return_inverse=True)
        given_items = np.asarray(items, dtype=object).astype(str)
        vocabulary = np.unique(np.concatenate([given_items, np.asarray(list(item_ids or []), dtype=object).astype(str)]))
        item_codes = np.searchsorted(vocabulary, given_items)
        n = len(user_codes)
        ts = np.arange(n, dtype=np.float64) if timestamps is None else np.asarray(timestamps, dtype=np.float64)
        w = np.ones(n, np.float32) if weights is None else np.asarray(weights, dtype=np.float32)
        if baskets is None:
            basket_codes = np.full(n, NO_BASKET, np.int64)
        else:
            raw = np.asarray([("" if b is None else str(b)) for b in baskets], dtype=object)
            _, basket_codes = np.unique(raw, return_inverse=True)
            basket_codes = np.where(raw == "", NO_BASKET, basket_codes).astype(np.int64)
        return cls(user_codes.astype(np.int32), item_codes.astype(np.int32), w, ts, basket_codes,
                   user_ids.astype(object), vocabulary.astype(object)).sorted()

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def __len__(self) -> int:
        return len(self.users)

    def sorted(self) -> InteractionLog:
        """The same events ordered by user, then time (stable: ties keep their given order)."""
        order = np.lexsort((np.arange(len(self)), self.timestamps, self.users))
        return self.take(order)

    def take(self, rows: np.ndarray) -> InteractionLog:
        """The events at `rows` (indices or a boolean mask), same user and item vocabularies."""
        return InteractionLog(self.users[rows], self.items[rows], self.weights[rows], self.timestamps[rows],
                              self.baskets[rows], self.user_ids, self.item_ids)

    def user_starts(self) -> np.ndarray:
        """Offsets such that user u's events are rows starts[u]:starts[u+1] (the log is sorted)."""
        return np.searchsorted(self.users, np.arange(self.n_users + 1)).astype(np.int64)

    def sequences(self) -> list[np.ndarray]:
        """Each user's item codes in time order (empty for a user with no events here)."""
        starts = self.user_starts()
        return [self.items[starts[u]:starts[u + 1]] for u in range(self.n_users)]

    def matrix(self, *, binary: bool = False) -> sparse.csr_matrix:
        """The user x item matrix of summed weights (1 per pair when `binary`)."""
        values = np.ones(len(self), np.float32) if binary else self.weights
        m = sparse.csr_matrix((values, (self.users, self.items)), shape=(self.n_users, self.n_items), dtype=np.float32)
        m.sum_duplicates()
        if binary:
            m.data[:] = 1.0
        return m

    def item_counts(self) -> np.ndarray:
        """How many events each item has."""
        return np.bincount(self.items, minlength=self.n_items)


def history_matrix(histories: Sequence[np.ndarray], n_items: int) -> sparse.csr_matrix:
    """Histories (item-code arrays) as a binary row-per-history sparse matrix."""
    lengths = np.array([len(h) for h in histories], dtype=np.int64)
    rows = np.repeat(np.arange(len(histories)), lengths)
    cols = np.concatenate(histories).astype(np.int64) if len(histories) else np.zeros(0, np.int64)
    m = sparse.csr_matrix((np.ones(len(cols), np.float32), (rows, cols)), shape=(len(histories), n_items))
    m.sum_duplicates()
    m.data[:] = 1.0
    return m
