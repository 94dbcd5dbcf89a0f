"""The policy's private bookkeeping: waiting groups, counted suppressions, ladder, rate window."""

from __future__ import annotations

import collections
from collections.abc import Callable

import attrs

from ..core.events import Event, Severity
from ..core.notice import Channel, Notice

__all__ = ["Bucket", "Group", "Held", "RateWindow", "Rung", "climb"]


@attrs.define
class Group:
    """Events of one session waiting to become one notice on one channel at `flush_at`."""

    channel: Channel
    session: str
    flush_at: float
    events: list[Event] = attrs.Factory(list)


@attrs.define
class Bucket:
    """Suppressed events counted until one log line accounts for them.

    `reason` is empty for repeats of one fingerprint, else why they were inhibited.
    """

    reason: str
    created: float
    events: list[Event] = attrs.Factory(list)


@attrs.define
class Rung:
    """An unacknowledged error on the ladder, with its repeats: sent to the desktop at `start`."""

    event: Event
    start: float
    step: int = 0
    escalated: bool = False
    also: list[int] = attrs.Factory(list)  # later events of its session and fingerprint


@attrs.define
class Held:
    """A desktop notice the rate limit held back, with the events it speaks of."""

    notice: Notice
    events: list[Event]


class RateWindow:
    """Times of recent deliveries, to allow at most `rate` in any `span` seconds."""

    def __init__(self, rate: int, span: float = 60.0) -> None:
        self.rate = rate
        self.span = span
        self._times: collections.deque[float] = collections.deque()

    def _prune(self, now: float) -> None:
        while self._times and self._times[0] <= now - self.span:
            self._times.popleft()

    def allows(self, now: float) -> bool:
        """Whether one more delivery at `now` keeps every window within the rate."""
        self._prune(now)
        return len(self._times) < self.rate

    def record(self, ts: float) -> None:
        """Remember a delivery at `ts` (times arrive in order, restored ones sorted first)."""
        self._times.append(ts)
        if len(self._times) > 1 and self._times[-2] > ts:
            self._times = collections.deque(sorted(self._times))


def climb(
    ladder: dict[int, Rung],
    now: float,
    *,
    renotify_after: float,
    escalate_after: float,
    skip: Callable[[Event], bool],
) -> list[tuple[list[Rung], bool]]:
    """Rungs due at `now`, grouped by session and by (escalation, renotify), oldest id first.

    A rung is due for a renotify when a new multiple of `renotify_after` has passed since its
    start (missed steps are skipped, not caught up), and for its one escalation once
    `escalate_after` has passed; an escalation stands in for a renotify due at the same time.
    When a session has a due rung, its rungs due within the next half `renotify_after` come
    along (a little early), so a session is reminded at most about twice per `renotify_after`
    however its errors are spread in time.  A rung's step is then
    ``(now - start + renotify_after / 2) // renotify_after``.  Critical events have nothing to be
    raised to: they are only renotified.  Rungs that `skip` (silenced) are left as they are.
    """
    half = renotify_after / 2
    live = [ladder[i] for i in sorted(ladder) if not skip(ladder[i].event)]

    def due(rung: Rung, at: float) -> tuple[bool, bool]:
        """(renotify, escalate) due for `rung` at `at`."""
        escalate = not rung.escalated and at - rung.start >= escalate_after
        return int((at - rung.start) // renotify_after) > rung.step, escalate

    sessions = {r.event.session for r in live if any(due(r, now))}
    out: dict[str, tuple[list[Rung], list[Rung]]] = {}
    for rung in live:
        if rung.event.session not in sessions:
            continue
        renotify, escalate = due(rung, now + half)
        if rung.event.severity >= Severity.CRITICAL and escalate:
            rung.escalated, escalate = True, False
        if escalate or renotify:
            out.setdefault(rung.event.session, ([], []))[0 if escalate else 1].append(rung)
            rung.step = max(rung.step, int((now + half - rung.start) // renotify_after))
            rung.escalated = rung.escalated or escalate
    return [
        (rungs, escalate)
        for raised, renotified in out.values()
        for rungs, escalate in ((raised, True), (renotified, False))
        if rungs
    ]
