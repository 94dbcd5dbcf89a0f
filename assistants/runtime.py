"""What every assistant process shares: the tick loop, the store, heartbeats and system events."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Sequence
from types import FrameType

from escalation.core.config import Config
from escalation.core.errors import StoreError, TmuxError
from escalation.core.events import Event, Kind, Severity, new_event
from escalation.core.memory import trim
from escalation.core.paths import StewardHome
from escalation.core.store import FeedBatch, Heartbeat, PaneRecord, Store
from escalation.core.tmux import Tmux
from escalation.core.watchdog import beat_every

from .alarm import Alarm
from .timing import Jobs

__all__ = ["Assistant", "system_event"]

log = logging.getLogger(__name__)

# Return the C heap's free pages to the system at most this often.
TRIM_EVERY = 15.0
# Consecutive failed ticks before a `system.capture_failed` event.
FAILURES_BEFORE_EVENT = 3
SKIP_REPORT_EVERY = 60.0
# Events kept in memory while the store cannot be written; beyond this the oldest are dropped
# (and counted in the event that reports the store back).
UNSTORED_MAX = 20000
UNFED_MAX = 2000  # feed batches (a pane's new lines of one tick each) kept likewise


def system_event(
    *, now: float, assistant: str, session: str, rule: str, severity: Severity, text: str
) -> Event:
    """An event about Steward itself (its assistants and captures)."""
    return new_event(
        ts=now, session=session, target=assistant, assistant=assistant, rule=rule,
        severity=severity, kind=Kind.SYSTEM, text=text,
    )


class Assistant:
    """The base of session, QA and deployment assistants: subclasses implement `step`."""

    def __init__(self, config: Config, home: StewardHome, *, name: str, phase: float) -> None:
        self.config = config
        self.home = home
        self.name = name
        self.phase = phase
        # Reads go through one control-mode client attached to the PM's session (Steward's
        # own, never watched), not a tmux process per command.
        self.tmux = Tmux.through_pm(config, home.run_dir)
        self.store = Store(home.db)
        self.started = time.time()
        self.ticks = 0
        self.captures = 0
        self.failures = 0
        self.skipped = 0
        self.first_capture: float | None = None
        self._failing = 0
        self._failure_reported = False
        self._skips_unreported = 0
        self._last_skip_report = 0.0
        self._last_beat = 0.0
        self._last_trim = 0.0
        self._last_tick: float | None = None
        self._ticker: Jobs | None = None  # made by run(): APScheduler, or the clock's wake-ups
        # Read, not yet written: kept until the store takes them (see `_store`).
        self.unstored: list[Event] = []
        self.unfed: list[FeedBatch] = []
        self._cursor_unstored: tuple[str, int] | None = None
        self.unsaved: dict[tuple[str, str], PaneRecord] = {}  # the newest record of each pane
        self.dropped = 0
        self._store_fault: str | None = None
        self.alarm = Alarm(config, self.tmux)

    # -- to implement ---------------------------------------------------------------------

    def step(self, now: float) -> list[Event]:
        """One capture round; the events it found."""
        raise TmuxError(f"{type(self).__name__} does not read panes")

    def records(self, now: float) -> Sequence[PaneRecord]:
        """What to persist of each pane that changed since the last call (its resume point)."""
        return ()

    def take_feed(self) -> Sequence[FeedBatch]:
        """New lines for the line feed, written with this tick's events (session assistants)."""
        return ()

    def take_cursor(self) -> tuple[str, int] | None:
        """Where this assistant stands in the line feed, written with its events (followers)."""
        return None

    def session_for_system_events(self) -> str:
        return "steward"

    def make_jobs(self) -> Jobs:
        """The job runner: APScheduler in this process (session assistants: the clock's)."""
        from .scheduler import Ticker  # only processes that run it pay for its import

        return Ticker(on_skipped=self._skipped, on_error=self._errored)

    def extra_jobs(self, ticker: Jobs) -> None:
        """Add jobs beside the capture tick (summaries)."""

    def close(self) -> None:
        """Let go of what a subclass holds beside the store (its threads), at shutdown."""

    # -- the loop -------------------------------------------------------------------------

    def tick(self) -> None:
        self.tick_at(time.time())

    def tick_at(self, now: float) -> None:
        """One scheduled run at `now`: capture, store events with the panes' records, beat."""
        interval = self.config.capture.interval
        if self._last_tick is not None and (self._ticker is None or self._ticker.counts_gaps):
            # Runs the scheduler merged because the one before overran: skipped captures.
            missed = int((now - self._last_tick + interval / 4) / interval) - 1
            if missed > 0:
                self.skipped += missed
                self._skips_unreported += missed
        self._last_tick = now
        self.ticks += 1
        events: list[Event] = []
        try:
            events += self.step(now)
        except TmuxError as exc:
            self.failures += 1
            self._failing += 1
            log.warning("%s: capture failed: %s", self.name, exc)
            # A tmux server that is gone is the reconciler's to say, once for every session.
            if (self._failing >= FAILURES_BEFORE_EVENT and not self._failure_reported
                    and "no server running" not in str(exc)):
                self._failure_reported = True
                events.append(
                    self._system(
                        "system.capture_failed",
                        Severity.WARNING,
                        f"{self.name}: captures failing: {exc}",
                        now,
                    )
                )
        else:
            self.captures += 1
            if self.first_capture is None:
                self.first_capture = now
            if self._failure_reported:
                events.append(
                    self._system(
                        "system.capture_recovered",
                        Severity.INFO,
                        f"{self.name}: captures work again",
                        now,
                    )
                )
            self._failing = 0
            self._failure_reported = False
        if self._skips_unreported and now - self._last_skip_report >= SKIP_REPORT_EVERY:
            events.append(
                self._system(
                    "system.capture_skipped",
                    Severity.WARNING,
                    f"{self.name}: {self._skips_unreported} capture runs skipped: a capture"
                    f" was slower than the {self.config.capture.interval:g}s interval",
                    now,
                )
            )
            self._skips_unreported = 0
            self._last_skip_report = now
        self._store(events, self.take_feed(), self.take_cursor(), now)
        if now - self._last_trim >= TRIM_EVERY:
            self._last_trim = now
            trim()  # what a burst of output left free goes back to the system
        try:
            if now - self._last_beat >= beat_every(self.config) or self.ticks == 1:
                self.beat(now)
        except StoreError as exc:
            self._store_failed(exc, now)

    def _store(
        self,
        events: list[Event],
        feed: Sequence[FeedBatch],
        cursor: tuple[str, int] | None,
        now: float,
    ) -> None:
        """Write this tick's events, feed and cursor after any kept from ticks that failed.

        The records of the panes that changed go in the same transaction: what a respawned
        assistant resumes from never disagrees with the events stored, so that it neither
        repeats nor skips a line after a SIGKILL.  The reader has moved past the lines these
        came from: if the store cannot take them (disk full, locked past the busy timeout),
        they stay in memory (at most UNSTORED_MAX events and UNFED_MAX feed batches, the
        oldest dropped first, the newest cursor and record of each pane) and are written, in
        one transaction as always, at the next tick that can.
        """
        pending = self.unstored + events
        feeds = self.unfed + list(feed)
        cursor = cursor if cursor is not None else self._cursor_unstored
        records = {**self.unsaved, **{(r.assistant, r.pane): r for r in self.records(now)}}
        if not pending and not feeds and cursor is None and not records:
            return
        try:
            self.store.add_events(pending, feed=feeds, cursor=cursor, panes=records.values())
        except StoreError as exc:
            self._store_failed(exc, now)
            if len(pending) > UNSTORED_MAX:
                self.dropped += len(pending) - UNSTORED_MAX
                pending = pending[-UNSTORED_MAX:]
            self.unstored, self.unfed = pending, feeds[-UNFED_MAX:]
            self._cursor_unstored, self.unsaved = cursor, records
            return
        self.unstored, self.unfed, self._cursor_unstored, self.unsaved = [], [], None, {}
        if self._store_fault is not None:
            self._store_back(now, kept=len(pending))

    def _store_failed(self, exc: StoreError, now: float) -> None:
        if self._store_fault is not None:
            return
        self._store_fault = str(exc)
        log.error("%s: cannot write the store: %s", self.name, exc)
        self.alarm.raise_(
            f"{self.name}: cannot write the store ({exc}); what it reads is kept in memory"
            " and written when the store works again",
            now,
        )

    def _store_back(self, now: float, *, kept: int) -> None:
        fault, self._store_fault = self._store_fault, None
        lost = f"; {self.dropped} events were dropped (memory bound)" if self.dropped else ""
        text = (f"{self.name}: the store works again; {kept} events kept in memory were written"
                f"{lost} (it had failed: {fault})")
        self.alarm.clear(text, now)
        try:
            self.store.add_events([self._system(
                "system.store_recovered", Severity.WARNING if self.dropped else Severity.INFO,
                text, now)])
        except StoreError as exc:
            self._store_failed(exc, now)
        self.dropped = 0

    def _system(self, rule: str, severity: Severity, text: str, now: float) -> Event:
        return system_event(
            now=now,
            assistant=self.name,
            session=self.session_for_system_events(),
            rule=rule,
            severity=severity,
            text=text,
        )

    def _skipped(self, _job: str) -> None:
        self.skipped += 1
        self._skips_unreported += 1

    def _errored(self, job: str, exc: BaseException) -> None:
        log.error("%s: job %s failed: %r", self.name, job, exc)
        self.failures += 1

    def save(self, now: float) -> None:
        """Persist the panes that changed since the last tick (at shutdown, before a summary)."""
        self._store([], (), None, now)

    def beat(self, now: float) -> None:
        self._last_beat = now
        self.store.beat(
            Heartbeat(
                assistant=self.name,
                pid=os.getpid(),
                started=self.started,
                ts=now,
                ticks=self.ticks,
                captures=self.captures,
                failures=self.failures,
                skipped=self.skipped,
                first_capture=self.first_capture,
            )
        )

    def run(self) -> None:
        """Tick until SIGTERM or SIGINT, then persist and stop."""

        ticker = self._ticker = self.make_jobs()

        def stop(_sig: int, _frame: FrameType | None) -> None:
            ticker.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            self.beat(time.time())  # at once: the reconciler counts restarts by new pids
        except StoreError as exc:  # a full disk: start all the same, keep what is read
            self._store_failed(exc, time.time())
        ticker.every("capture", self.config.capture.interval, self.tick, phase=self.phase)
        self.extra_jobs(ticker)
        log.info(
            "%s: capturing every %gs at phase %.3f",
            self.name,
            self.config.capture.interval,
            self.phase,
        )
        trim()  # compiling the rule packs left megabytes free
        try:
            ticker.run()
        finally:
            now = time.time()
            try:
                self.save(now)
                self.beat(now)
            except StoreError as exc:  # what is kept in memory is read again from tmux
                log.error("%s: cannot write the store at shutdown: %s", self.name, exc)
            self.close()
            self.store.close()
            self.tmux.close()

