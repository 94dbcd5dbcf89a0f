"""The alerts Steward keeps open in Alertmanager: opened by escalations, refreshed, then ended.

The daemon offers every decided event; one the policy delivered, of at least `min_severity`,
opens an alert whose labels identify the problem (rule, severity, host, session, target,
assistant, fingerprint and the static labels) and whose annotations carry its safe text.  A
later event with the same labels joins the open alert.  Each step, the feed ends the alerts
whose events were acknowledged or resolved or that a silence now covers, gives the sink what is
due (new, ended, or open for `resend_interval` since its last post), and records the answers:
a failed post is retried after 1, 2, 4 ... seconds (at most 30 s or the resend interval), a
rejected one is logged once and dropped.  An event the ladder raises to critical ends its
alert and opens a critical one.  All of it is in the store, so it outlives the daemon.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence

import attrs

from .core.config import AlertmanagerConfig
from .core.events import Event, Kind, Severity, Status
from .core.notice import Notice
from .core.sanitize import sanitize
from .core.silence import Silence
from .core.store import AlertRecord, AlertState, Store
from .sinks.alertmanager import AlertmanagerSink, Result, alert_notice
from .sinks.log import jump_command

__all__ = ["ANSWER_CHECK", "AlertFeed", "alert_for", "backoff"]

_log = logging.getLogger(__name__)

ANSWER_CHECK = 1.0  # seconds between two looks for acks, resolutions and silences
BACKOFF_CAP = 30.0
_SUMMARY_CAP = 500
_DESCRIPTION_CAP = 4000


def backoff(attempts: int, resend_interval: float) -> float:
    """Seconds to wait after the `attempts`-th failure in a row."""
    cap = min(BACKOFF_CAP, resend_interval)
    return float(min(cap, 2.0 ** max(0, attempts - 1)))


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def alert_for(
    event: Event,
    *,
    host: str,
    labels: Sequence[tuple[str, str]] = (),
    tmux_args: Sequence[str] = (),
    now: float = 0.0,
) -> AlertRecord:
    """The alert `event` opens: labels that never carry changing text, annotations that do."""
    static = dict(labels)
    found = {
        "alertname": event.rule,
        "severity": event.severity.label,
        "host": static.pop("host", host),
        "session": event.session,
        "target": event.target,
        "assistant": event.assistant,
        "fingerprint": event.fingerprint,
        **static,
    }
    # Alertmanager treats an empty label as absent; leave them out so that keys agree.
    clean = {k: sanitize(v).strip() for k, v in found.items()}
    clean = {k: v for k, v in clean.items() if v}
    summary = sanitize(event.text).strip()
    description = sanitize(event.detail or event.text, multiline=True).strip()
    notes = {
        "summary": _cap(summary, _SUMMARY_CAP),
        "description": _cap(description, _DESCRIPTION_CAP),
        "jump": jump_command(event.target, tmux_args=tmux_args) if event.target else "",
    }
    key = hashlib.sha1(json.dumps(clean, sort_keys=True).encode()).hexdigest()[:16]
    return AlertRecord(
        key=key,
        labels=tuple(sorted(clean.items())),
        annotations=tuple(sorted((k, v) for k, v in notes.items() if v)),
        starts_at=event.ts,
        due_at=now,
    )


class AlertFeed:
    """Feeds one Alertmanager from one Steward's store; the daemon calls it every cycle."""

    def __init__(
        self,
        *,
        config: AlertmanagerConfig,
        store: Store,
        sink: AlertmanagerSink,
        host: str,
        tmux_args: Sequence[str] = (),
        note: Callable[[str, Severity], None] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.sink = sink
        self.host = host
        self.tmux_args = tuple(tmux_args)
        self._note = note
        self._min = Severity.parse(config.min_severity)
        self._in_flight: dict[str, AlertRecord] = {}
        self._checked = float("-inf")
        self._down: str | None = None

    def offer(self, event: Event, status: Status, now: float) -> bool:
        """Open (or join) the alert of an event the policy decided on; True if one opened."""
        if status is not Status.DELIVERED or event.id is None:
            return False
        if event.kind is Kind.SUMMARY or event.severity < self._min:
            return False
        record = alert_for(event, host=self.host, labels=self.config.labels,
                           tmux_args=self.tmux_args, now=now)
        return self.store.open_alert(record, event.id)

    def escalated(self, notice: Notice, now: float) -> int:
        """The ladder raised events to critical: their alerts become critical ones.

        The error alert ends and a critical one (same start) opens, so that a route on
        `severity="critical"` sees it.  Returns how many critical alerts opened.
        """
        parts = notice.key.split(":")
        if len(parts) < 2 or parts[1] != "escalate":
            return 0
        opened = 0
        for event_id in notice.event_ids:
            event = self.store.event(event_id)
            if event is None or event.status is not Status.DELIVERED:
                continue
            if event.severity < self._min or event.severity >= Severity.CRITICAL:
                continue
            before = alert_for(event, host=self.host, labels=self.config.labels,
                               tmux_args=self.tmux_args, now=now)
            raised = attrs.evolve(event, severity=Severity.CRITICAL)
            after = alert_for(raised, host=self.host, labels=self.config.labels,
                              tmux_args=self.tmux_args, now=now)
            self.store.end_alert(before.key, now)
            opened += self.store.open_alert(after, event_id)
        return opened

    def step(self, now: float, silences: Sequence[Silence] = ()) -> None:
        """End what was answered, record the worker's answers, post what is due."""
        if now - self._checked >= ANSWER_CHECK:
            self._checked = now
            self._end_answered(now, silences)
        for outcome in self.sink.results():
            sent = self._in_flight.pop(outcome.key, None)
            if outcome.result is Result.OK:
                self.store.alert_posted(outcome.key, outcome.version, outcome.at,
                                        outcome.at + self.config.resend_interval)
                self._reachable()
            elif outcome.result is Result.RETRY:
                attempts = (sent.attempts if sent else 0) + 1
                wait = backoff(attempts, self.config.resend_interval)
                self.store.alert_failed(outcome.key, outcome.version, attempts, outcome.at + wait)
                self._unreachable(outcome.detail)
            else:
                self.store.alert_rejected(outcome.key)
                name = dict(sent.labels).get("alertname", "?") if sent else "?"
                target = dict(sent.labels).get("target", "?") if sent else "?"
                self._tell(f"Alertmanager refused alert {name} of {target}: {outcome.detail};"
                           " it is not posted again", Severity.WARNING)
        for record in self.store.alerts_due(now):
            if record.key in self._in_flight:
                continue
            if self.sink.deliver(alert_notice(record)):
                self._in_flight[record.key] = record
        self.sink.flush()

    def close(self) -> None:
        self.sink.close()

    # -- helpers ----------------------------------------------------------------------------

    def _end_answered(self, now: float, silences: Sequence[Silence]) -> None:
        for key in self.store.alerts_answered():
            self.store.end_alert(key, now)
        if not silences:
            return
        for record in self.store.alerts(states=(AlertState.OPEN,)):
            event = self.store.event(record.first_event)
            if event is not None and any(s.matches(event, now) for s in silences):
                self.store.end_alert(record.key, now)

    def _unreachable(self, detail: str) -> None:
        if self._down is None:
            self._tell(f"Alertmanager unreachable ({detail}); alerts are kept and retried",
                       Severity.WARNING)
        self._down = detail

    def _reachable(self) -> None:
        if self._down is not None:
            self._down = None
            self._tell(f"Alertmanager at {self.sink.where} takes alerts again", Severity.INFO)

    def _tell(self, text: str, severity: Severity) -> None:
        _log.log(logging.WARNING if severity >= Severity.WARNING else logging.INFO, "%s", text)
        if self._note is not None:
            self._note(text, severity)
