"""The assistant of one tmux session: reads every pane, raises events, writes summaries."""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Sequence

from escalation.core.config import Config
from escalation.core.errors import StoreError, TmuxError
from escalation.core.events import Event, Kind, Severity, new_event
from escalation.core.paths import StewardHome
from escalation.core.store import FeedBatch, PaneRecord, Store
from escalation.core.tmux import PaneInfo
from escalation.rules import RuleSet

from .pane.watch import PaneWatch
from .runtime import Assistant, system_event
from .summary import PaneView, Run, SessionView, Summary, summarize, summarize_with_command
from .timing import Jobs
from .wake import WakeTicker

__all__ = ["SessionAssistant", "changed", "record_summary", "session_summary", "session_view"]

log = logging.getLogger(__name__)

_AGES = re.compile(r"\b\d+ (?:min|s)\b")  # how long something has lasted is not a change



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
        self._forget_due = False
        # The summary command runs in a thread of its own (a daemon: it never holds up a
        # stop); captures never wait for it, and the tick records what it wrote.
        self._results: queue.SimpleQueue[tuple[Summary, str | None]] = queue.SimpleQueue()
        self._summarizing = False
        self._feed: list[FeedBatch] = []

    def session_for_system_events(self) -> str:
        return self.session

    def _listed(self) -> list[PaneInfo]:
        """The session's panes: as the clock listed them for this wake-up, else from tmux."""
        rows = self._ticker.rows if isinstance(self._ticker, WakeTicker) else None
        if rows:
            try:
                return [PaneInfo.parse(row) for row in rows]
            except TmuxError as exc:  # a row the clock read half: list the panes here instead
                log.debug("%s: the clock's rows do not parse (%s); listing panes", self.name, exc)
        return self.tmux.panes(self.session)

    def step(self, now: float) -> list[Event]:
        if self._summarizing and not self._results.empty():
            self._summarizing = False
            self._record(*self._results.get())
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
            self._forget_due = True
        if self._known:
            # Panes this assistant knew before it (re)started that are no longer there: a
            # recreated session's old panes must not be listed beside its new ones.
            self._known.clear()
            self._forget_due = True
        if self._forget_due:
            try:
                self.store.forget_panes(self.name, self.watches)
                self._forget_due = False
            except StoreError as exc:  # the events of this step matter more: try next time
                log.warning("%s: cannot forget gone panes yet: %s", self.name, exc)
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
            ticker.every("summary", self.config.summary.interval, self.write_summary,
                         phase=self.phase)

    def write_summary(self) -> None:
        now = time.time()
        self.save(now)
        if not self.config.summary.command:
            self._record(summarize(session_view(self.store, self.session, now)), None)
        elif not self._summarizing:  # the last one still runs: this interval is skipped
            self._summarizing = True
            view = session_view(self.store, self.session, now)
            command, timeout = self.config.summary.command, self.config.summary.timeout
            threading.Thread(
                target=lambda: self._results.put(summarize_with_command(view, command, timeout)),
                name="summary", daemon=True).start()

    def _record(self, summary: Summary, error: str | None) -> None:
        """Store a summary that says something new; a failed command is said once."""
        now = time.time()
        if error and not self._summary_error_logged:
            self._summary_error_logged = True
            self.store.add_events([system_event(
                now=now, assistant=self.name, session=self.session,
                rule="system.summary_command_failed", severity=Severity.WARNING,
                text=f"summary command failed, using the built-in summary: {error}")])
        if changed(self.store, summary):
            record_summary(self.store, summary, assistant=self.name)


def changed(store: Store, summary: Summary) -> bool:
    """Whether the summary says something the last one written for its session did not."""
    latest = store.latest_summary(summary.session)
    if latest is None:
        return True
    return _gist(latest[1]) != _gist(summary.render())


def _gist(text: str) -> str:
    """A rendered summary without its title line and the ages in it."""
    return _AGES.sub("", "\n".join(text.splitlines()[1:]))


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
    silences = store.silences(active_at=now)
    states = {p.target: p.state for p in panes}
    open_events = tuple(
        e for e in events
        if e.status.value in ("new", "delivered") and e.severity >= Severity.WARNING
        and e.kind is not Kind.SUMMARY and not any(s.matches(e, now) for s in silences)
        # a state is a blocker only while its pane is still in it
        and (e.kind is not Kind.STATE or states.get(e.target) == e.rule.removeprefix("state."))
    )
    runs = tuple(r for e in events if (r := Run(ts=e.ts, target=e.target, rule=e.rule,
                                                text=e.text)).verdict(e.severity))
    return SessionView(session=session, now=now, panes=tuple(panes), open_events=open_events,
                       runs=runs[-50:])


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
    first = summary.headline()
    event = new_event(
        ts=summary.ts, session=summary.session, target=summary.session, assistant=assistant,
        rule="summary.executive", severity=Severity.INFO, kind=Kind.SUMMARY, text=first,
        detail=text, fingerprint=f"summary:{summary.session}:{summary.ts:.0f}",
    )
    return store.add_events([event])[0]
