"""The QA and deployment assistants: they follow test runs and rollouts in any watched pane."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence

from escalation.core.config import Config
from escalation.core.events import Event, Kind
from escalation.core.memo import PaneMemo
from escalation.core.paths import StewardHome
from escalation.core.store import PaneRecord
from escalation.core.tmux import PaneInfo
from escalation.rules import RuleSet

from .deploy import DeployAnalyzer, is_deploy_tool
from .pane.new_lines import Capture
from .pane.reader import PaneReader
from .pane.watch import masked, pane_event
from .qa import Finding, QAAnalyzer, is_test_runner
from .runtime import Assistant

__all__ = ["SpecialistAssistant"]

# A pane whose runner returned to the shell is still read this long, for the run's last lines.
FOLLOW_GRACE = 15.0


class _Followed:
    def __init__(self, reader: PaneReader, analyzer: QAAnalyzer | DeployAnalyzer) -> None:
        self.reader = reader
        self.analyzer = analyzer
        self.last_seen_running = 0.0
        self.info: PaneInfo | None = None
        self.dirty = True


class SpecialistAssistant(Assistant):
    """`qa` or `deploy`: reads the panes its targets name and panes running its tools."""

    def __init__(
        self, config: Config, home: StewardHome, *, kind: str, phase: float, ruleset: RuleSet
    ) -> None:
        super().__init__(config, home, name=kind, phase=phase)
        self.kind = kind
        self.ruleset = ruleset
        self.targets = config.qa.targets if kind == "qa" else config.deploy.targets
        self.runs_tool: Callable[[str], bool] = is_test_runner if kind == "qa" else is_deploy_tool
        self.followed: dict[str, _Followed] = {}
        self._known = {r.pane: r for r in self.store.panes(assistant=self.name)}

    def _targeted(self, info: PaneInfo) -> bool:
        names = (f"{info.session}:{info.window_index}", f"{info.session}:{info.window_name}")
        return any(fnmatch.fnmatchcase(n, g) for g in self.targets for n in names)

    def _analyzer(self, record: PaneRecord | None) -> QAAnalyzer | DeployAnalyzer:
        memo = record.memo.analyzer if record is not None else None
        if self.kind == "qa":
            if memo is not None:
                return QAAnalyzer.from_json(self.ruleset, memo)
            return QAAnalyzer(self.ruleset)
        return DeployAnalyzer(self.ruleset, stalled_after=self.config.states.stalled_after)

    def step(self, now: float) -> list[Event]:
        events: list[Event] = []
        alive = set()
        for info in self.tmux.panes():
            if info.session == self.config.pm.session:
                continue
            alive.add(info.pane_id)
            running = self.runs_tool(info.current_command)
            followed = self.followed.get(info.pane_id)
            wanted = self._targeted(info) or running
            if followed is None:
                if not wanted:
                    continue
                record = self._known.pop(info.pane_id, None)
                last = record.memo.capture if record is not None else None
                reader = PaneReader(
                    self.tmux, info.pane_id, history_lines=self.config.capture.history_lines,
                    last=Capture.from_json(last) if last is not None else None,
                    resume_mask=masked,
                )
                followed = self.followed[info.pane_id] = _Followed(reader, self._analyzer(record))
            if running:
                followed.last_seen_running = now
            elif not wanted and now - followed.last_seen_running > FOLLOW_GRACE:
                del self.followed[info.pane_id]
                continue
            followed.info = info
            events += self._read(followed, info, now)
        for gone in set(self.followed) - alive:
            del self.followed[gone]
        return events

    def _read(self, followed: _Followed, info: PaneInfo, now: float) -> list[Event]:
        delta = followed.reader.read(info)
        findings: list[Finding] = []
        analyzer = followed.analyzer
        if delta is not None and delta.lines:
            followed.dirty = True
            if isinstance(analyzer, QAAnalyzer):
                findings += analyzer.feed(delta.lines, now, command=info.current_command)
            else:
                findings += analyzer.feed(delta.lines, now)
        findings += analyzer.tick(now)
        return [
            pane_event(info, now=now, assistant=self.name, rule=f.rule, severity=f.severity,
                       kind=Kind.PATTERN, text=f.text, detail=f.detail, line=f.line)
            for f in findings
        ]

    def records(self, now: float) -> Sequence[PaneRecord]:
        out = []
        for pane, followed in self.followed.items():
            if not followed.dirty or followed.info is None:
                continue
            followed.dirty = False
            last = followed.reader.last
            analyzer = followed.analyzer
            memo = PaneMemo(
                capture=masked(last).to_json() if last is not None else None,
                analyzer=analyzer.to_json() if isinstance(analyzer, QAAnalyzer) else None,
            )
            info = followed.info
            out.append(PaneRecord(
                assistant=self.name, pane=pane, session=info.session, target=info.target,
                command=info.current_command, state="followed", since=followed.last_seen_running,
                updated=now, memo=memo,
            ))
        return out
