"""The board: every watched pane and session with its state, open escalations and last alert.

One reading of the store serves the PM pane's header, `steward top` and `steward status`.
Only panes of sessions that exist now are on it, so a killed session leaves the board as
soon as tmux says it is gone.
"""

from __future__ import annotations

from collections.abc import Collection

import attrs

from .core.events import Event, Kind, Severity
from .core.store import PaneRecord, Store

__all__ = ["PaneRow", "SessionRow", "ago", "pane_rows", "session_rows", "state_rank"]

# What needs the PM first: a crash, a question, a stall; then panes that stopped; then work.
_RANK = {"crashed": 0, "waiting_input": 1, "stalled": 2, "exited": 3, "active": 4, "idle": 5}
LABELS = {"waiting_input": "waiting"}
_RED_RUNS = frozenset({"qa.run_failed", "qa.regression"})


def state_rank(state: str) -> int:
    """Lower needs attention sooner."""
    return _RANK.get(state, 6)


@attrs.frozen(kw_only=True)
class PaneRow:
    """One watched pane as the PM sees it."""

    session: str
    window: str
    pane: str  # tmux's %id
    target: str
    command: str
    state: str
    since: float  # the last real output or command (the state's start if none is known)
    state_since: float
    open: int
    last_alert: str = ""
    last_alert_id: int | None = None
    last_alert_severity: Severity | None = None
    open_ids: tuple[int, ...] = ()

    @property
    def label(self) -> str:
        return LABELS.get(self.state, self.state)

    def sort_key(self) -> tuple[int, int, float, str]:
        return (state_rank(self.state), -self.open, -self.since, self.target)

    def to_json(self, now: float) -> dict[str, object]:
        return {
            "session": self.session, "window": self.window, "pane": self.pane,
            "target": self.target, "command": self.command, "state": self.state,
            "since": self.since, "for": round(now - self.since, 1),
            "state_since": self.state_since, "open": self.open, "last_alert": self.last_alert,
            "last_alert_id": self.last_alert_id,
        }


@attrs.frozen(kw_only=True)
class SessionRow:
    """One watched session: the state of its worst pane and for how long, its open count."""

    session: str
    state: str
    since: float
    open: int
    panes: int
    last_alert: str = ""

    @property
    def label(self) -> str:
        return LABELS.get(self.state, self.state)


def _last_activity(rec: PaneRecord) -> float:
    tracker = rec.memo.tracker or {}
    value = tracker.get("last_activity")
    return float(value) if isinstance(value, int | float) else rec.since


def _is_open(event: Event, states: dict[str, str]) -> bool:
    """Unacknowledged and still true: a state event counts only while its pane is in it."""
    if event.kind is Kind.SUMMARY or event.severity < Severity.WARNING:
        return False
    if event.kind is Kind.STATE:
        return states.get(event.pane or event.target) == event.rule.removeprefix("state.")
    return True


def pane_rows(store: Store, *, live: Collection[str] | None) -> list[PaneRow]:
    """Every pane a session assistant watches, in a session that is `live` (None: all)."""
    records = [r for r in store.panes() if r.assistant.startswith("session:")
               and (live is None or r.session in live)]
    states = {r.pane: r.state for r in records}
    greens: dict[str, float] = {}  # target -> its latest green run: it replaces red ones
    for event in store.events(limit=500, newest=True):
        if event.rule in ("qa.run_passed", "qa.recovered"):
            greens[event.target] = max(greens.get(event.target, 0.0), event.ts)
    open_by_pane: dict[str, list[Event]] = {}
    for event in store.open_events():
        fixed = event.rule in _RED_RUNS and greens.get(event.target, -1.0) >= event.ts
        if _is_open(event, states) and not fixed:
            open_by_pane.setdefault(event.pane or event.target, []).append(event)
    rows = []
    for rec in records:
        events = open_by_pane.get(rec.pane, [])
        last = events[-1] if events else None
        rows.append(PaneRow(
            session=rec.session,
            window=rec.target.rpartition(":")[2].partition(".")[0],
            pane=rec.pane,
            target=rec.target,
            command=rec.command,
            state=rec.state,
            since=_last_activity(rec),
            state_since=rec.since,
            open=len(events),
            last_alert=last.text if last else "",
            last_alert_id=last.id if last else None,
            last_alert_severity=last.severity if last else None,
            open_ids=tuple(e.id for e in events if e.id is not None),
        ))
    return sorted(rows, key=PaneRow.sort_key)


def session_rows(rows: Collection[PaneRow]) -> list[SessionRow]:
    """One row per session, the one that needs attention first on top."""
    by_session: dict[str, list[PaneRow]] = {}
    for row in rows:
        by_session.setdefault(row.session, []).append(row)
    out = []
    for session, panes in by_session.items():
        worst = min(panes, key=PaneRow.sort_key)
        alerts = [p for p in panes if p.last_alert_id is not None]
        latest = max(alerts, key=lambda p: p.last_alert_id or 0) if alerts else None
        out.append(SessionRow(
            session=session,
            state=worst.state,
            since=worst.state_since,
            open=sum(p.open for p in panes),
            panes=len(panes),
            last_alert=latest.last_alert if latest else "",
        ))
    return sorted(out, key=lambda s: (state_rank(s.state), -s.open, s.session))


def ago(seconds: float) -> str:
    """A short duration: 42s, 12m, 3h05m, 2d."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d"
