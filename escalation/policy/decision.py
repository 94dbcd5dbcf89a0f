"""What the policy says of one event (`Decision`), and the names of the rules it reasons about."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from ..core.events import Event, Status
from ..core.notice import Channel, Notice
from ..core.silence import Silence

__all__ = ["EXITED", "GREEN_RUNS", "RED_RUNS", "SESSION_GONE", "VERDICTS", "WAITING",
           "WAITS_CLIMB", "Decision"]

# Warnings that climb the ladder like errors: waits for an answer.
WAITS_CLIMB = frozenset({"state.waiting_input"})

EXITED = frozenset({"state.exited", "state.crashed"})
WAITING = "state.waiting_input"
SESSION_GONE = "system.session_gone"
RED_RUNS = frozenset({"qa.run_failed", "qa.regression"})
GREEN_RUNS = frozenset({"qa.run_passed", "qa.recovered"})  # resolve the red runs before
VERDICTS = RED_RUNS | GREEN_RUNS  # the QA assistant's verdicts on runs
_GROUPED = (Channel.DESKTOP, Channel.DISPLAY, Channel.KEYS)


@attrs.frozen(kw_only=True)
class Decision:
    """What the policy made of one event: its status, what to deliver now, what it resolves."""

    status: Status
    notices: tuple[Notice, ...]
    resolved: tuple[int, ...] = ()
    reason: str = ""


def _pane(event: Event) -> str:
    return event.pane or event.target


def _silenced(event: Event, now: float, silences: Sequence[Silence]) -> Silence | None:
    return next((s for s in silences if s.matches(event, now)), None)
