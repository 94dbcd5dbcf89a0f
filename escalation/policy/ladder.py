"""The escalation ladder's rungs: one per session and fingerprint, looked at only when one is due.

A flood of one error leaves one rung, not one per event; an idle tick costs a comparison with
the earliest time a rung can be due, whatever the number of open errors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection

from ..core.events import Event
from .state import Rung, climb

__all__ = ["RECHECK", "Ladder"]

# While a silence holds back a rung that is due, the ladder looks again this often.
RECHECK = 1.0


def _key(event: Event) -> tuple[str, str]:
    return event.session, event.fingerprint or f"event:{event.id}"


class Ladder:
    """Unacknowledged errors sent to the desktop, grouped by session and fingerprint."""

    def __init__(self, *, renotify_after: float, escalate_after: float) -> None:
        self.renotify_after = renotify_after
        self.escalate_after = escalate_after
        self._rungs: dict[int, Rung] = {}  # id of the rung's first event -> rung
        self._of: dict[int, int] = {}  # every event id on the ladder -> its rung's first id
        self._by_key: dict[tuple[str, str], int] = {}
        self._next = math.inf  # no rung can be due before this

    def __len__(self) -> int:
        return len(self._rungs)

    def add(self, event: Event, start: float) -> None:
        """Put an error on the ladder, or on its session and fingerprint's rung if one stands."""
        if event.id is None or event.id in self._of:
            return
        first = self._by_key.get(_key(event))
        if first is not None:
            self._rungs[first].also.append(event.id)
            self._of[event.id] = first
            return
        rung = Rung(event=event, start=start)
        self._rungs[event.id] = rung
        self._of[event.id] = event.id
        self._by_key[_key(event)] = event.id
        self._next = min(self._next, self._due_at(rung))

    def get(self, event_id: int) -> Rung | None:
        first = self._of.get(event_id)
        return self._rungs.get(first) if first is not None else None

    def touched(self) -> None:
        """A rung's step changed from outside (a restart): compute the next due time again."""
        self._next = -math.inf

    def finish(self, ids: Collection[int]) -> None:
        """Acknowledged or resolved: the rungs of these events are off the ladder."""
        for event_id in ids:
            first = self._of.get(event_id)
            rung = self._rungs.pop(first, None) if first is not None else None
            if first is None or rung is None:
                continue
            for other in (first, *rung.also):
                self._of.pop(other, None)
            self._by_key.pop(_key(rung.event), None)

    def _due_at(self, rung: Rung) -> float:
        at = rung.start + (rung.step + 1) * self.renotify_after
        if not rung.escalated:
            at = min(at, rung.start + self.escalate_after)
        return at

    def climb(self, now: float, skip: Callable[[Event], bool]) -> list[tuple[list[Rung], bool]]:
        """Rungs due at `now` (see `state.climb`); nothing is walked before one can be due."""
        if now < self._next:
            return []
        due = climb(
            self._rungs,
            now,
            renotify_after=self.renotify_after,
            escalate_after=self.escalate_after,
            skip=skip,
        )
        nxt = min((self._due_at(r) for r in self._rungs.values()), default=math.inf)
        self._next = nxt if nxt > now else now + RECHECK  # due but skipped: silenced
        return due
