"""The frozen Event that flows from an assistant, through the store, to every sink."""

from __future__ import annotations

import enum

import attrs

__all__ = ["Event", "Kind", "Severity", "Status"]


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
