"""The words of the policy's notices: every title and body, sanitised and cut to size."""

from __future__ import annotations

import time
from collections.abc import Sequence

from ..core.events import Event, Severity
from ..core.notice import Channel, Notice
from ..core.sanitize import sanitize

__all__ = [
    "DESKTOP_BODY_MAX",
    "count_phrase",
    "group_notice",
    "held_summary",
    "hhmm",
    "inhibited_notice",
    "ladder_notice",
    "log_notice",
    "repeat_notice",
    "where",
]

DESKTOP_BODY_MAX = 200
LINE_MAX = {Channel.LOG: 1000, Channel.DISPLAY: 200, Channel.KEYS: 500, Channel.DESKTOP: 200}

_NOUNS = {
    Severity.INFO: ("info message", "info messages"),
    Severity.WARNING: ("warning", "warnings"),
    Severity.ERROR: ("error", "errors"),
    Severity.CRITICAL: ("critical error", "critical errors"),
}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _line(text: str) -> str:
    return sanitize(text)


def hhmm(ts: float) -> str:
    """Local wall-clock time of `ts`, as the PM reads it in the log."""
    return time.strftime("%H:%M", time.localtime(ts))


def count_phrase(events: Sequence[Event]) -> str:
    """ "7 errors", "1 error and 2 warnings": events counted by severity, worst first."""
    counts: dict[Severity, int] = {}
    for event in events:
        counts[event.severity] = counts.get(event.severity, 0) + 1
    parts = [
        f"{n} {_NOUNS[sev][0] if n == 1 else _NOUNS[sev][1]}"
        for sev, n in sorted(counts.items(), reverse=True)
    ]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def where(events: Sequence[Event]) -> str:
    """The one target of `events`, else their session(s) and how many panes."""
    targets = list(dict.fromkeys(e.target for e in events))
    if len(targets) == 1:
        return targets[0]
    sessions = list(dict.fromkeys(e.session for e in events))
    return f"{', '.join(sessions)} ({len(targets)} panes)"


def _worst(events: Sequence[Event]) -> Severity:
    return max(e.severity for e in events)


def _ids(events: Sequence[Event]) -> tuple[int, ...]:
    return tuple(e.id for e in events if e.id is not None)


def _about(
    events: Sequence[Event], *, key: str, channel: Channel, severity: Severity, title: str,
    body: str, now: float,
) -> Notice:
    """A notice about `events`, addressed to the pane, session and rule of the first."""
    first = events[0]
    return Notice(
        key=key,
        channel=channel,
        severity=severity,
        title=title,
        body=body,
        target=first.target,
        session=first.session,
        rule=first.rule,
        event_ids=_ids(events),
        ts=now,
    )


def log_notice(event: Event, now: float) -> Notice:
    """The aggregated log's line for one delivered event."""
    return _about([event], key=f"log:{event.id}", channel=Channel.LOG, severity=event.severity,
                  title="", body=_cut(_line(event.text), LINE_MAX[Channel.LOG]), now=now)


def _account(kind: str, events: Sequence[Event], body: str, now: float) -> Notice:
    """A log line that accounts for events held back (`kind` names why in its key)."""
    return _about(events, key=f"log:{kind}:{events[0].id}", channel=Channel.LOG,
                  severity=_worst(events), title="",
                  body=_cut(_line(body), LINE_MAX[Channel.LOG]), now=now)


def repeat_notice(events: Sequence[Event], now: float) -> Notice:
    """The log line that accounts for repeats of one fingerprint held back by the cooldown."""
    first = events[0]
    times = "1 time" if len(events) == 1 else f"{len(events)} times"
    body = f"{_line(first.text)} … repeated {times} since {hhmm(first.ts)}"
    return _account("repeat", events, body, now)


def inhibited_notice(events: Sequence[Event], reason: str, now: float) -> Notice:
    """The log line that accounts for pattern events suppressed by an inhibition."""
    first = events[0]
    lines = "1 line" if len(events) == 1 else f"{len(events)} lines"
    body = (
        f"{lines} from {where(events)} suppressed since {hhmm(first.ts)} ({reason}),"
        f" first: {_line(first.text)}"
    )
    return _account("inhibited", events, body, now)


def _summary(events: Sequence[Event]) -> str:
    """The text of one event, or how many and the first one's: the sinks add target and rule."""
    if len(events) == 1:
        return _line(events[0].text)
    return f"{count_phrase(events)} in {where(events)}, first: {_line(events[0].text)}"


def _desktop_body(events: Sequence[Event], lead: str = "") -> str:
    first = events[0]
    if len(events) == 1:
        head = f"{first.rule} · {first.target}"
        text = f"{head}{lead}\n{_line(first.text)}"
    else:
        text = f"{count_phrase(events)} in {where(events)}{lead}, first: {_line(first.text)}"
    return _cut(sanitize(text, multiline=True), DESKTOP_BODY_MAX)


def group_notice(channel: Channel, session: str, events: Sequence[Event], now: float) -> Notice:
    """One notice for the events of one session gathered during group_wait."""
    first = events[0]
    severity = _worst(events)
    title = ""
    if channel is Channel.DESKTOP:
        title = f"Steward: {severity.label} in {session}"
        body = _desktop_body(events)
    else:
        body = _cut(_summary(events), LINE_MAX[channel])
    return _about(events, key=f"{channel.value}:group:{session}:{first.id}", channel=channel,
                  severity=severity, title=_cut(_line(title), 120), body=body, now=now)


def ladder_notice(
    channel: Channel, events: Sequence[Event], now: float, *, step: int, escalate: bool, age: float
) -> Notice:
    """A renotify (step n) or the one escalation to critical of unacknowledged events."""
    first = events[0]
    session = first.session
    minutes = f"{round(age / 60)} min" if age >= 90 else f"{max(1, round(age))} s"
    if escalate:
        severity = Severity.CRITICAL
        key = f"{channel.value}:escalate:{first.id}"
        title = f"Steward: escalated to critical in {session}"
        lead = f" unacknowledged for {minutes}, now critical"
    else:
        severity = _worst(events)
        key = f"{channel.value}:renotify:{first.id}:{step}"
        title = f"Steward: still unacknowledged in {session}"
        lead = f" unacknowledged for {minutes}"
    if channel is Channel.DESKTOP:
        body = _desktop_body(events, lead)
    else:
        title = ""
        body = _cut(_line(f"{lead.strip()}: {_summary(events)}"), LINE_MAX[channel])
    return _about(events, key=key, channel=channel, severity=severity,
                  title=_cut(_line(title), 120), body=body, now=now)


def held_summary(keys: Sequence[str], events: Sequence[Event], now: float) -> Notice:
    """One desktop notice for the notices (`keys`) that the rate limit held back."""
    by_session: dict[str, list[Event]] = {}
    for event in events:
        by_session.setdefault(event.session, []).append(event)
    parts = [f"{count_phrase(evs)} in {s}" for s, evs in by_session.items()]
    body = f"{len(keys)} more notifications held back: {', '.join(parts)}"
    sessions = list(by_session)
    return Notice(
        key="desktop:held:" + keys[0].removeprefix("desktop:"),
        channel=Channel.DESKTOP,
        severity=_worst(events),
        title=f"Steward: {len(keys)} notifications held back",
        body=_cut(_line(body), DESKTOP_BODY_MAX),
        target=events[0].target if len(sessions) == 1 else "",
        session=sessions[0] if len(sessions) == 1 else "",
        rule="",
        event_ids=_ids(events),
        ts=now,
    )
