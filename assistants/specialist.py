"""The QA and deployment assistants: they follow the line feed of every watched pane, whatever
command is in its foreground, and judge test runs and rollouts by what they print."""

from __future__ import annotations

from collections.abc import Sequence

from escalation.core.config import Config
from escalation.core.events import Event, Kind, new_event
from escalation.core.memo import PaneMemo
from escalation.core.paths import StewardHome
from escalation.core.store import FeedBatch, PaneRecord
from escalation.rules import RuleSet

from .deploy import DeployAnalyzer
from .qa import Finding, QAAnalyzer
from .runtime import Assistant

__all__ = ["FOLLOWERS", "SpecialistAssistant"]

FOLLOWERS = ("qa", "deploy")
# Batches read from the feed in one tick at most; the rest waits for the next tick.
READ_LIMIT = 2000
PRUNE_EVERY = 60.0
# A pane with no new line for this long is forgotten (its analyzer kept in the store).
IDLE_FORGET = 3600.0


class _Pane:
    """One pane as a follower knows it: where it is, its analyzer, when it last printed."""

    def __init__(self, batch: FeedBatch, analyzer: QAAnalyzer | DeployAnalyzer) -> None:
        self.batch = batch
        self.analyzer = analyzer
        self.dirty = True


class SpecialistAssistant(Assistant):
    """`qa` or `deploy`: follows every watched pane's lines through the feed in the store."""

    def __init__(
        self, config: Config, home: StewardHome, *, kind: str, phase: float, ruleset: RuleSet
    ) -> None:
        super().__init__(config, home, name=kind, phase=phase)
        self.kind = kind
        self.ruleset = ruleset
        self.panes: dict[str, _Pane] = {}
        self._known = {r.pane: r for r in self.store.panes(assistant=self.name)}
        self._pos = self.store.cursor(self.name)
        self._read_to = self._pos
        self._last_prune = 0.0

    def _analyzer(self, record: PaneRecord | None) -> QAAnalyzer | DeployAnalyzer:
        memo = record.memo.analyzer if record is not None else None
        if self.kind == "qa":
            if memo is not None:
                return QAAnalyzer.from_json(self.ruleset, memo)
            return QAAnalyzer(self.ruleset)
        return DeployAnalyzer(self.ruleset, stalled_after=self.config.states.stalled_after)

    def step(self, now: float) -> list[Event]:
        batches = self.store.feed_after(self._pos, limit=READ_LIMIT)
        events: list[Event] = []
        for batch in batches:
            pane = self.panes.get(batch.pane)
            if pane is None:
                analyzer = self._analyzer(self._known.pop(batch.pane, None))
                pane = self.panes[batch.pane] = _Pane(batch, analyzer)
            pane.batch = batch
            pane.dirty = True
            events += self._events(pane, self._feed(pane.analyzer, batch, now), now)
        if batches:
            self._read_to = batches[-1].id
        for pane_id, pane in list(self.panes.items()):
            ended = self._events(pane, pane.analyzer.tick(now), now)
            pane.dirty = pane.dirty or bool(ended)  # stored with its events, as the cursor is
            events += ended
            if now - pane.batch.ts > IDLE_FORGET:
                del self.panes[pane_id]
        if now - self._last_prune >= PRUNE_EVERY:
            self._last_prune = now
            self.store.prune_feed(FOLLOWERS, now=now)
        return events

    def take_cursor(self) -> tuple[str, int] | None:
        if self._read_to == self._pos:
            return None
        self._pos = self._read_to
        return (self.name, self._pos)

    @staticmethod
    def _feed(
        analyzer: QAAnalyzer | DeployAnalyzer, batch: FeedBatch, now: float
    ) -> list[Finding]:
        if isinstance(analyzer, QAAnalyzer):
            return analyzer.feed(batch.lines, now, command=batch.command)
        return analyzer.feed(batch.lines, now, command=batch.command)

    def _events(self, pane: _Pane, findings: Sequence[Finding], now: float) -> list[Event]:
        b = pane.batch
        return [
            new_event(ts=now, session=b.session, window=b.window, pane=b.pane, target=b.target,
                      assistant=self.name, rule=f.rule, severity=f.severity, kind=Kind.PATTERN,
                      text=f.text, detail=f.detail, line=f.line)
            for f in findings
        ]

    def records(self, now: float) -> Sequence[PaneRecord]:
        out = []
        for pane_id, pane in self.panes.items():
            if not pane.dirty:
                continue
            pane.dirty = False
            analyzer = pane.analyzer
            b = pane.batch
            out.append(PaneRecord(
                assistant=self.name, pane=pane_id, session=b.session, target=b.target,
                command=b.command, state="followed", since=b.ts, updated=now,
                memo=PaneMemo(
                    analyzer=analyzer.to_json() if isinstance(analyzer, QAAnalyzer) else None
                ),
            ))
        return out
