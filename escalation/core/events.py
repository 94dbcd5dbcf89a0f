"""The frozen Event that flows from an assistant, through the store, to every sink.

`new_event` is the one place an Event is built: its text redacted, then sanitised, and
fingerprinted.  The store reads Events back as they were written.
"""

from __future__ import annotations

import enum

import attrs

from .fingerprint import fingerprint as _fingerprint
from .redact import redact
from .sanitize import sanitize, tidy_message

__all__ = ["PANE_DEAD", "Event", "Kind", "Severity", "Status", "new_event", "safe_text"]

# The `detail` of a state event whose pane is dead (tmux's `pane_dead`), not merely back at
# its shell: only such a pane inhibits its pattern events.
PANE_DEAD = "pane dead"


class Severity(enum.IntEnum):
    """How much an event needs the PM; ordered so that comparisons mean something."""

    INFO = 10
    WARNING = 20
    ERROR = 30
    CRITICAL = 40

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = "|".join(s.label for s in cls)
            raise ValueError(f"severity must be one of {names}, not {text!r}") from None


class Kind(enum.StrEnum):
    """Where an event comes from."""

    PATTERN = "pattern"
    STATE = "state"
    SUMMARY = "summary"
    SYSTEM = "system"


class Status(enum.StrEnum):
    """Where an event stands in its life."""

    NEW = "new"
    DELIVERED = "delivered"
    ACKED = "acked"
    SILENCED = "silenced"
    SUPPRESSED = "suppressed"
    RESOLVED = "resolved"


@attrs.frozen(kw_only=True)
class Event:
    """One thing that happened in a pane, already sanitised and redacted.

    `id` is None until the store assigns one.  `target` is `session:window.pane`
    (window and pane as indexes, so that `tmux select-pane -t TARGET` jumps there);
    `pane` is tmux's stable `%id`.
    """

    ts: float
    session: str
    window: str
    pane: str
    target: str
    assistant: str
    rule: str
    severity: Severity
    kind: Kind
    text: str
    fingerprint: str
    detail: str = ""
    status: Status = Status.NEW
    id: int | None = None

    def to_json(self) -> dict[str, object]:
        """The public `steward events --json` shape."""
        return {
            "id": self.id,
            "ts": self.ts,
            "session": self.session,
            "window": self.window,
            "pane": self.pane,
            "target": self.target,
            "assistant": self.assistant,
            "rule": self.rule,
            "severity": self.severity.label,
            "kind": self.kind.value,
            "text": self.text,
            "detail": self.detail,
            "fingerprint": self.fingerprint,
            "status": self.status.value,
        }


def safe_text(text: str, *, multiline: bool = False) -> str:
    """Redacted, then sanitised: what may be stored and shown."""
    return sanitize(redact(text), multiline=multiline)


def new_event(
    *,
    ts: float,
    session: str,
    target: str,
    assistant: str,
    rule: str,
    severity: Severity,
    kind: Kind,
    text: str,
    window: str = "",
    pane: str = "",
    detail: str = "",
    line: str = "",
    scope: str = "",
    fingerprint: str = "",
) -> Event:
    """An Event with its text and detail made safe, fingerprinted by what it is about.

    The fingerprint is of `line` (the pane line the event is about), else of the safe
    text, within `scope` (default: the target): two rules or two assistants reporting
    the same line of the same pane share it, so the policy tells the PM once.  An
    explicit `fingerprint` (a summary's, which is unique by time) is taken as it is.
    """
    clean = tidy_message(safe_text(text))  # as a person reads it: no `=====`, no glyphs
    return Event(
        ts=ts,
        session=session,
        window=window,
        pane=pane,
        target=target,
        assistant=assistant,
        rule=rule,
        severity=severity,
        kind=kind,
        text=clean,
        detail=safe_text(detail, multiline=True) if detail else "",
        fingerprint=fingerprint
        or _fingerprint(scope or target, safe_text(line) if line else clean),
    )
