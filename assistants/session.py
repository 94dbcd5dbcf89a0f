"""The assistant of one tmux session: reads every pane, raises events, writes summaries."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from escalation.core.config import Config
from escalation.core.errors import TmuxError
from escalation.core.events import Event, Kind, Severity, new_event
from escalation.core.paths import StewardHome
from escalation.core.store import FeedBatch, PaneRecord, Store
from escalation.core.tmux import PaneInfo
from escalation.rules import RuleSet

from .pane.watch import PaneWatch
from .runtime import Assistant, system_event
from .summary import PaneView, SessionView, Summary, summarize, summarize_with_command
from .summary_worker import SummaryWorker
from .timing import Jobs
from .wake import WakeTicker

__all__ = ["SessionAssistant", "record_summary", "session_summary", "session_view"]

log = logging.getLogger(__name__)


class SessionAssistant(Assistant):
    """`session:<name>`: one per watched session."""

    def __init__(
        self, config: Config, home: StewardHome, *, session: str, phase: float, ruleset: RuleSet
    ) -> None:
        super().__init__(config, home, name=f"session:{session}", phase=phase)
        self.session = session
        self.ruleset = ruleset
        self.watches: dict[str, PaneWatch] = {}
        self._known = {r.pane: r for r in self.store.panes(assistant=self.name)}
        self._summary_error_logged = False
        self._summaries: SummaryWorker | None = None
        self._feed: list[FeedBatch] = []

    def session_for_system_events(self) -> str:
        return self.session

    def _listed(self) -> list[PaneInfo]:
        """The session's panes: as the clock listed them for this wake-up, else from tmux."""
        rows = self._ticker.rows if isinstance(self._ticker, WakeTicker) else None
        if rows:
            try:
                return [PaneInfo.parse(row) for row in rows]
            except TmuxError:
                pass  # a row the clock read half: list the panes here
        return self.tmux.panes(self.session)

    def step(self, now: float) -> list[Event]:
        try:
            infos = self._listed()
        except TmuxError:
            if self.tmux.is_alive() and not self.tmux.has_session(self.session):
                return []  # the session is gone: the reconciler stops this assistant
            raise
        events: list[Event] = []
        seen = set()
        for info in infos:
            seen.add(info.pane_id)
            watch = self.watches.get(info.pane_id)
            if watch is None:
                watch = PaneWatch(
                    tmux=self.tmux,
                    info=info,
                    ruleset=self.ruleset,
                    states=self.config.states,
                    history_lines=self.config.capture.history_lines,
                    assistant=self.name,
                    record=self._known.pop(info.pane_id, None),
                )
                self.watches[info.pane_id] = watch
            events += watch.step(info, now)
            if watch.fed is not None:
                self._feed.append(watch.fed)
        for gone in set(self.watches) - seen:
            del self.watches[gone]
            self.store.forget_panes(self.name, self.watches)
        return events

    def take_feed(self) -> list[FeedBatch]:
        feed, self._feed = self._feed, []
        return feed

    def records(self, now: float) -> Sequence[PaneRecord]:
        out = []
        for watch in self.watches.values():
            if watch.dirty:
                watch.dirty = False
                out.append(watch.record(now))
        return out

    def make_jobs(self) -> Jobs:
        """Woken by the clock (which lists this session's panes), not a scheduler of its own."""
        return WakeTicker(self.home.run_dir, session=self.session, phase=self.phase,
                          interval=self.config.capture.interval, on_error=self._errored)

    def extra_jobs(self, ticker: Jobs) -> None:
        if self.config.summary.interval > 0:
            if self.config.summary.command:
                # The user's command runs in a thread of its own: captures go on meanwhile.
                self._summaries = SummaryWorker(
                    self.home.db, command=self.config.summary.command,
                    timeout=self.config.summary.timeout, done=self._summary_done, name=self.name)
            ticker.every("summary", self.config.summary.interval, self.write_summary,
                         phase=self.phase)

    def write_summary(self) -> None:
        now = time.time()
        self.save(now)
        if self._summaries is not None:
            if not self._summaries.submit(session_view(self.store, self.session, now)):
                log.warning("%s: summary skipped: the last summary command still runs", self.name)
            return
        summary, error = session_summary(self.store, self.config, self.session, now)
        self._summary_done(self.store, summary, error)

    def _summary_done(self, store: Store, summary: Summary, error: str | None) -> None:
        """Store a finished summary (in the thread that wrote it, with that thread's store)."""
        if error and not self._summary_error_logged:
            self._summary_error_logged = True
            store.add_events([system_event(
                now=summary.ts, assistant=self.name, session=self.session,
                rule="system.summary_command_failed", severity=Severity.WARNING,
                text=f"summary command failed, using the built-in summary: {error}")])
        record_summary(store, summary, assistant=self.name)

    def close(self) -> None:
        if self._summaries is not None:
            self._summaries.stop()


def session_view(store: Store, session: str, now: float) -> SessionView:
    """What the store knows of a session, as the summariser wants it."""
    panes = []
    for rec in store.panes(session=session):
        if not rec.assistant.startswith("session:"):
            continue
        panes.append(PaneView(
            target=rec.target,
            command=rec.command,
            state=rec.state,
            state_since=rec.since,
            recent=rec.memo.recent,
            prompt=rec.memo.prompt,
        ))
    events = store.events(session=session, limit=500, newest=True)
    open_events = tuple(
        e for e in events
        if e.status.value in ("new", "delivered") and e.severity >= Severity.WARNING
        and e.kind is not Kind.SUMMARY
    )
    runs = tuple(e.text for e in events if e.rule.startswith("qa.run") or e.rule == "qa.regression")
    return SessionView(session=session, now=now, panes=tuple(panes), open_events=open_events,
                       test_runs=runs[-5:])


def session_summary(
    store: Store, config: Config, session: str, now: float
) -> tuple[Summary, str | None]:
    """The session's executive summary: the configured command's, else the built-in one."""
    view = session_view(store, session, now)
    if config.summary.command:
        return summarize_with_command(view, config.summary.command, config.summary.timeout)
    return summarize(view), None


def record_summary(store: Store, summary: Summary, *, assistant: str) -> Event:
    """Store a summary and queue it as an event, so the daemon writes it to the log."""
    text = summary.render()
    store.add_summary(summary.session, summary.ts, text, summary.to_json())
    first = text.splitlines()[0] if text else f"Session: {summary.session}"
    event = new_event(
        ts=summary.ts, session=summary.session, target=summary.session, assistant=assistant,
        rule="summary.executive", severity=Severity.INFO, kind=Kind.SUMMARY, text=first,
        detail=text, fingerprint=f"summary:{summary.session}:{summary.ts:.0f}",
    )
    return store.add_events([event])[0]
