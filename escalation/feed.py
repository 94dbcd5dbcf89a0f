"""The PM's feed: which log lines deserve the PM's attention, and each as one line that fits.

Attention first: warnings and worse, run verdicts (`qa.*` at info), summaries' headlines,
and the state changes that matter (a wait, a stall or a crash that ended).  Everything
else (idle/active/exited churn, Steward's own notes) shows only with `--all` or a lower
`--min-severity`.
"""

from __future__ import annotations

import time

import attrs

from ._width import cells, cut
from .core.events import Severity
from .core.sanitize import sanitize
from .sinks.log import NOTE_RULE, parse_line

__all__ = ["COLORS", "RESET", "SHORT", "Attention", "Entry", "fit", "to_entry"]

COLORS = {
    Severity.INFO: "\x1b[2m",  # faint
    Severity.WARNING: "\x1b[33m",  # yellow
    Severity.ERROR: "\x1b[31m",  # red
    Severity.CRITICAL: "\x1b[1;97;41m",  # bold white on red
}
RESET = "\x1b[0m"
SHORT = {Severity.INFO: "info", Severity.WARNING: "WARN", Severity.ERROR: "ERR",
         Severity.CRITICAL: "CRIT"}
TARGET_CELLS = 18  # the widest `session:w.p` a line shows before cutting it
_TROUBLE = frozenset({"state.waiting_input", "state.stalled", "state.crashed"})
_GREEN_DEPLOYS = ("_done", "_deployed", "_complete")
_SUMMARY = "summary."


@attrs.frozen(kw_only=True)
class Entry:
    """One line of the feed: a Steward log line's fields, or a foreign line as it is."""

    hhmm: str
    severity: Severity | None
    target: str
    rule: str
    body: str
    event_id: int | None = None
    recovery: bool = False


def to_entry(line: str) -> Entry:
    """The feed entry of one log line (a line that is not Steward's is kept, sanitised)."""
    text = sanitize(line)
    parsed = parse_line(text)
    if parsed is None:
        return Entry(hhmm=time.strftime("%H:%M"), severity=None, target="", rule="", body=text)
    return Entry(hhmm=parsed.when[11:16], severity=parsed.severity, target=parsed.target,
                 rule=parsed.rule, body=parsed.body, event_id=parsed.event_id)


def _verdict(rule: str) -> bool:
    """An info line that says how a run or a rollout ended (a pass), not that one goes on."""
    return rule in ("qa.run_passed", "qa.recovered") or (
        rule.startswith("deploy.") and rule.endswith(_GREEN_DEPLOYS))


class Attention:
    """Decides, line by line, what the PM sees; it remembers which panes are in trouble."""

    def __init__(self, *, min_severity: Severity = Severity.WARNING, everything: bool = False):
        self.min_severity = min_severity
        self.everything = everything
        self._trouble: dict[str, str] = {}  # target -> the state rule it is stuck in

    def keep(self, entry: Entry) -> Entry | None:
        """The entry to show (marked as a recovery when it ends a trouble), or None."""
        severity = entry.severity
        if severity is None:
            return entry
        recovery = False
        if entry.rule.startswith("state."):
            before = self._trouble.pop(entry.target, None)
            if entry.rule in _TROUBLE:
                self._trouble[entry.target] = entry.rule
            recovery = before is not None and entry.rule not in _TROUBLE
        if recovery:
            entry = attrs.evolve(entry, recovery=True)
        if self.everything or severity >= self.min_severity or recovery:
            return entry
        if entry.rule == NOTE_RULE:
            return None
        if _verdict(entry.rule) or entry.rule.startswith(_SUMMARY):
            return entry
        return None


def fit(entry: Entry, width: int, *, color: bool, cut_body: bool = True) -> str:
    """`HH:MM SEV session:w.p message… #id` in at most `width` columns (unless not cut_body)."""
    if entry.severity is None:
        return cut(entry.body, width) if cut_body else entry.body
    sev = f"{SHORT[entry.severity]:<4}"
    target = cut(entry.target, TARGET_CELLS) + " "
    ident = f" #{entry.event_id}" if entry.event_id is not None else ""
    body = ("recovered: " if entry.recovery else "") + entry.body
    lead = f"{entry.hhmm} {sev} "
    if cut_body:
        room = width - cells(lead) - cells(target) - cells(ident)
        if room < 8:  # a very narrow pane: the message matters more than the target
            target = ""
            room = width - cells(lead) - cells(ident)
        body = cut(body, room) if room > 0 else ""
    if color:
        lead = f"{entry.hhmm} {COLORS[entry.severity]}{sev}{RESET} "
    return f"{lead}{target}{body}{ident}"
