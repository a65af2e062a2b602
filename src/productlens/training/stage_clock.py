"""Where a run's minutes go: the default time budget for a catalogue's size, and the seconds
each stage of the run cost (printed at the end and saved in the version's metrics)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

AUTO = "auto"  # `train --budget auto`: the default, scaled with the catalogue
SMALL_PHOTOS, LARGE_PHOTOS = 1500, 2721  # up to SMALL: the shortest budget; from LARGE: the longest
SHORTEST_S, LONGEST_S = 600.0, 1200.0


def default_budget_s(photos: int) -> float:
    """10 minutes up to 1,500 photos, growing linearly to 20 minutes at 2,721 (Grocery's
    catalogue with its iconic images) and no further: a bigger catalogue costs more per epoch,
    and backbone adaptation pays most where there are many photos to adapt on."""
    share = (photos - SMALL_PHOTOS) / (LARGE_PHOTOS - SMALL_PHOTOS)
    return SHORTEST_S + (LONGEST_S - SHORTEST_S) * min(1.0, max(0.0, share))


class StageClock:
    """Seconds spent per named stage, in the order the stages first ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - started, 1)

    def summary(self) -> str:
        """One line: each stage's seconds and share of the total."""
        total = sum(self.seconds.values()) or 1.0
        return ", ".join(f"{name} {s:.0f} s ({100 * s / total:.0f}%)" for name, s in self.seconds.items())
