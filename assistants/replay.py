"""Every analyzer a pane's output reaches, run over a transcript at once: what `make eval` and
`steward test-rule --all` report, and what the live assistants decide line by line.

A watched pane's new lines go through the session assistant's packs (agents, then
generic) and, through the line feed, the QA and deploy analyzers; its screen goes
through the prompt and busy rules.  `replay` does the same to a list of lines, with
the transcript's last rows standing for the screen.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from escalation.core.events import Severity
from escalation.rules import RuleSet

from .deploy import DeployAnalyzer
from .qa import QAAnalyzer

__all__ = ["Finding", "Replay", "replay"]

SCREEN_ROWS = 40
# Far enough past the last line that every held block and settling run is let out.
_LATER = 3600.0 * 24


@attrs.frozen(kw_only=True)
class Finding:
    """One event the live assistants would raise for the transcript."""

    rule: str
    severity: Severity
    text: str
    line: str = ""
    source: str = ""  # session | qa | deploy | screen


@attrs.frozen(kw_only=True)
class Replay:
    """What a transcript gives: every finding, and the worst severity among them."""

    findings: tuple[Finding, ...]

    @property
    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    def escalates(self, at_least: Severity = Severity.WARNING) -> bool:
        worst = self.worst
        return worst is not None and worst >= at_least


def _screen(lines: Sequence[str]) -> list[str]:
    rows = list(lines)
    while rows and not rows[-1].strip():
        rows.pop()
    return rows[-SCREEN_ROWS:]


def replay(
    lines: Sequence[str],
    *,
    session: RuleSet,
    qa: RuleSet,
    deploy: RuleSet,
    command: str = "",
    stalled_after: float = 120.0,
) -> Replay:
    """The findings of every analyzer over `lines`, as if a pane printed them and settled."""
    found: list[Finding] = []
    matcher = session.matcher()
    for hit in [*matcher.feed(lines), *matcher.flush()]:
        found.append(Finding(rule=hit.rule.id, severity=hit.rule.severity, text=hit.message,
                             line=hit.line, source="session"))
    screen = _screen(lines)
    prompt = session.prompt(screen, "")
    if prompt is not None:
        found.append(Finding(rule="state.waiting_input", severity=Severity.WARNING,
                             text=f"waiting for input: {prompt.message}", line=prompt.line,
                             source="screen"))
    busy = session.busy(screen)
    if busy is not None and prompt is None:
        found.append(Finding(rule=busy.rule.id, severity=Severity.INFO, text=busy.message,
                             line=busy.line, source="screen"))
    tests = QAAnalyzer(qa)
    rollouts = DeployAnalyzer(deploy, stalled_after=stalled_after)
    for f in [*tests.feed(lines, 0.0, command=command), *tests.tick(_LATER)]:
        found.append(Finding(rule=f.rule, severity=f.severity, text=f.text, line=f.line,
                             source="qa"))
    for f in [*rollouts.feed(lines, 0.0, command=command), *rollouts.tick(1.0)]:
        if f.rule.endswith("stalled"):
            continue  # a transcript has no clock; stalls are measured live
        found.append(Finding(rule=f.rule, severity=f.severity, text=f.text, line=f.line,
                             source="deploy"))
    return Replay(findings=tuple(found))
