"""Held back: a command that returned to its shell inhibits nothing; only a dead pane does.

Real tmux panes, read by a real PaneWatch; their events go through the real Policy.
"""

from __future__ import annotations

from typing import Any

import attrs
from test_pane_watch import Driver

from escalation.core.config import NotifyConfig, PMConfig, PolicyConfig
from escalation.core.events import PANE_DEAD, Event, Kind, Status
from escalation.core.notice import Channel, Notice
from escalation.policy import Policy


def _decide(events: list[Event], until: float) -> tuple[dict[str, Status], list[Notice]]:
    """Every event through a Policy (ids as a store would give), then a tick at `until`."""
    policy = Policy(policy=PolicyConfig(), notify=NotifyConfig(desktop=True), pm=PMConfig())
    statuses: dict[str, Status] = {}
    notices: list[Notice] = []
    for n, event in enumerate(events, start=1):
        decision = policy.offer(attrs.evolve(event, id=n), event.ts)
        statuses[event.rule] = decision.status
        notices += decision.notices
    notices += policy.tick(until)
    return statuses, notices


def test_an_error_after_a_command_exited_reaches_the_desktop(server: Any) -> None:
    d = Driver(server)
    d.until(lambda: bool(d.watch.screen))
    d.type("sleep 2")
    d.until(lambda: d.info().current_command == "sleep")
    d.until(lambda: "state.exited" in d.states(), 10)
    exited = next(e for e in d.events if e.rule == "state.exited")
    assert exited.detail != PANE_DEAD  # back at the shell, not dead
    d.type("python3 -c \"raise KeyError('after sleep')\"")
    d.until(lambda: any(e.rule == "generic.python_traceback" for e in d.events))
    statuses, notices = _decide(d.events, d.now + 60)
    assert statuses["generic.python_traceback"] is Status.DELIVERED
    desktop = [n for n in notices if n.channel is Channel.DESKTOP]
    assert any("after sleep" in n.body for n in desktop), desktop
    assert not any("suppressed" in n.body for n in notices)


def test_a_dead_pane_still_inhibits(server: Any) -> None:
    d = Driver(server, command="sh -c 'echo working; sleep 0.5; exit 0'")
    d.until(lambda: "state.exited" in d.states() or "state.crashed" in d.states(), 12)
    ended = next(e for e in d.events if e.rule in ("state.exited", "state.crashed"))
    assert ended.detail == PANE_DEAD
    late = attrs.evolve(ended, kind=Kind.PATTERN, rule="generic.error_line", fingerprint="x",
                        text="Error: printed by a dead pane", detail="", ts=ended.ts + 1)
    statuses, notices = _decide([ended, late], ended.ts + 120)
    assert statuses["generic.error_line"] is Status.SUPPRESSED
    assert any("suppressed" in n.body and "is dead" in n.body for n in notices)
