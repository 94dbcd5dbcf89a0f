"""What the assistants' two job runners share: the staggered grid every capture sits on, and the
small interface of a runner (APScheduler's in `scheduler.py`, the clock's wake-ups in `wake.py`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

__all__ = ["Jobs", "first_run"]


def first_run(now: float, interval: float, phase: float) -> float:
    """The first time after `now` that sits `phase` (0..1) of the way into an interval.

    Every assistant counts intervals from the epoch, so phases given out evenly by the
    reconciler spread all captures evenly over the interval, across processes.
    """
    offset = (phase % 1.0) * interval
    start = math.floor(now / interval) * interval + offset
    while start <= now + 0.01:
        start += interval
    return start


class Jobs(Protocol):
    """Runs an assistant's jobs: the capture tick and the jobs beside it (summaries)."""

    counts_gaps: bool  # whether a gap between two capture runs means that runs were skipped

    def every(
        self, name: str, seconds: float, fn: Callable[[], None], *, phase: float = 0.0
    ) -> None: ...

    def run(self) -> None: ...

    def stop(self) -> None: ...
