"""The escalation daemon: reads new events, applies policy, delivers through the sinks."""

from __future__ import annotations

import collections
import logging
import os
import signal
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from .alerts import AlertFeed
from .core.config import Config
from .core.errors import StewardError
from .core.events import Event, Kind, Severity, Status
from .core.notice import Channel, Notice
from .core.paths import StewardHome
from .core.silence import Silence
from .core.store import Heartbeat, Store
from .core.tmux import Tmux
from .core.watchdog import beat_every, hung_event, is_hung, process_runs
from .metrics import MetricsFile
from .policy import Decision, Policy
from .sinks.alertmanager import AlertmanagerSink
from .sinks.base import Sink
from .sinks.desktop import DesktopSink
from .sinks.log import NOTE_RULE, LogSink
from .sinks.pm import DisplaySink, KeysSink
from .upkeep import Upkeep

__all__ = ["Daemon"]

log = logging.getLogger(__name__)

POLL = 0.1
SILENCE_REFRESH = 1.0
DESKTOP_RECHECK = 60.0
# A cycle that failed (the store cannot be written: disk full, locked) is tried again after this.
FAULT_RETRY = 1.0
# Log lines that could not be written, kept to write again (the oldest go beyond this).
LOG_RETRY_MAX = 10000
SESSION_GONE = "system.session_gone"
# Reports for an agent PM claimed within this many seconds and never typed are typed after a
# restart.
KEYS_REQUEUE = 86400.0


class Daemon:
    """One per Steward: the only process that delivers."""

    def __init__(self, config: Config, home: StewardHome) -> None:
        self.config = config
        self.home = home
        self.store = Store(home.db)
        self.tmux = Tmux(socket_name=config.tmux.socket_name, socket_path=config.tmux.socket_path)
        self.log_sink: Sink = LogSink(home.log_file, tmux_args=self.tmux.server_args())
        self.policy = Policy(policy=config.policy, notify=config.notify, pm=config.pm)
        self.sinks: dict[Channel, Sink] = {
            Channel.LOG: self.log_sink,
            Channel.DISPLAY: DisplaySink(self.tmux, config.pm.session),
        }
        self.keys: KeysSink | None = None
        if config.pm.mode == "send-keys":
            self.keys = KeysSink(self.tmux, config.pm.target, on_typed=self._typed,
                                 on_failure=self._keys_failed)
            self.sinks[Channel.KEYS] = self.keys
        self.desktop: Sink | None = None
        if config.notify.desktop:
            self.desktop = DesktopSink(
                app_name=config.notify.app_name,
                bus_address=os.environ.get("DBUS_SESSION_BUS_ADDRESS"),
            )
        self._desktop_ok = False
        self._desktop_checked = 0.0
        self._desktop_reason: str | None = None
        self._silences: list[Silence] = []
        self._silences_at = 0.0
        self._running = True
        self.started = time.time()
        self.cycles = 0
        self._last_beat = 0.0
        self._killed: set[int] = set()
        self.alerts: AlertFeed | None = None
        if config.alertmanager.url:
            self.alerts = AlertFeed(
                config=config.alertmanager,
                store=self.store,
                sink=AlertmanagerSink(url=config.alertmanager.url,
                                      timeout=config.alertmanager.timeout),
                host=socket.gethostname(),
                tmux_args=self.tmux.server_args(),
                note=lambda text, severity: self._note(text, severity, time.time()),
            )
        self.metrics: MetricsFile | None = None
        if config.metrics.textfile:
            self.metrics = MetricsFile(Path(config.metrics.textfile).expanduser(), self.store)
        self.upkeep = Upkeep(self.store, self.tmux, config.store)
        self._ack_cursor = self.store.ack_cursor()
        self._log_retry: collections.deque[Notice] = collections.deque(maxlen=LOG_RETRY_MAX)
        self._fault: str | None = None
        self._undecided: dict[int, Decision] = {}  # offered, not yet recorded as decided

    # -- desktop availability -------------------------------------------------------------

    def _check_desktop(self, now: float) -> None:
        if self.desktop is None or now - self._desktop_checked < DESKTOP_RECHECK:
            return
        self._desktop_checked = now
        reason = self.desktop.available()
        if reason is None and not self._desktop_ok:
            self._desktop_ok = True
            self.sinks[Channel.DESKTOP] = self.desktop
            if self._desktop_reason is not None:
                self._note("desktop notifications are back", Severity.INFO, now)
            else:
                self._note("desktop notifications on", Severity.INFO, now)
            self._desktop_reason = None
        elif reason is not None and (self._desktop_ok or self._desktop_reason is None):
            self._desktop_ok = False
            self.sinks.pop(Channel.DESKTOP, None)
            self._desktop_reason = reason
            self._note(
                f"desktop notifications off ({reason}); the PM pane and this log carry on",
                Severity.WARNING,
                now,
            )

    def _note(self, text: str, severity: Severity, now: float) -> None:
        log.info("%s", text)
        self._log_line(text, severity, now)

    def _keys_failed(self, why: str, notices: Sequence[Notice]) -> None:
        """A report typed into the PM's prompt was not submitted: recorded, and said."""
        for notice in notices:
            self.store.mark_delivered(notice.key, False)
        self._note(f"{why}: steward events --unacked", Severity.ERROR, time.time())

    def _log_line(self, text: str, severity: Severity, ts: float) -> bool:
        """A line of Steward's own (a note, a summary) in the log, through the log sink."""
        note = Notice(key="", channel=Channel.LOG, severity=severity, title="", body=text,
                      rule=NOTE_RULE, ts=ts)
        if not self.log_sink.deliver(note):
            log.warning("cannot write to the log: %s", text)
            return False
        return True

    # -- delivery -------------------------------------------------------------------------

    def deliver(self, notice: Notice) -> None:
        sink = self.sinks.get(notice.channel)
        if sink is None:
            return
        if not self.store.claim_delivery(notice):
            return  # delivered before (perhaps before a restart): never twice
        try:
            ok = sink.deliver(notice)
        except Exception:  # a sink must never take the daemon down; it is logged with its trace
            log.exception("sink %s failed on %s", notice.channel, notice.key)
            ok = False
        if not ok and notice.channel is Channel.LOG:
            self._log_retry.append(notice)  # the log is the record: write it when it can be
            self._alert("log", f"cannot write the log {self.home.log_file}; its lines are kept"
                        " and written when it can be")
        self.store.mark_delivered(notice.key, ok)

    def _typed(self, notices: Sequence[Notice]) -> None:
        """The send-keys sink typed these: only now are they delivered."""
        for notice in notices:
            self.store.mark_delivered(notice.key, True)

    def _retry_log(self) -> None:
        """Write the log lines that failed before, oldest first, until one fails again."""
        while self._log_retry:
            notice = self._log_retry[0]
            if not self.log_sink.deliver(notice):
                return
            self._log_retry.popleft()
            self.store.mark_delivered(notice.key, True)

    def _alert(self, kind: str, text: str) -> None:
        """Tell the PM of a fault of Steward's own by channels that need no disk, once an episode.

        Nothing is claimed in the store (it may be what failed): the desktop and the PM
        session's clients are told directly.
        """
        if self._fault == kind:
            return
        self._fault = kind
        log.error("%s", text)
        notice = Notice(key="", channel=Channel.DISPLAY, severity=Severity.CRITICAL,
                        title="Steward: a fault of its own", body=text, rule=NOTE_RULE,
                        ts=time.time())
        for sink in (self.sinks.get(Channel.DISPLAY), self.desktop):
            if sink is not None:
                try:
                    sink.deliver(notice)
                except Exception:  # a fault report must never add a fault; logged with its trace
                    log.exception("cannot report the fault through %s", sink.channel)

    def _summary(self, event: Event) -> None:
        notice = Notice(
            key=f"summary:{event.id}",
            channel=Channel.LOG,
            severity=Severity.INFO,
            title="",
            body=event.text,
            target=event.target,
            session=event.session,
            rule=event.rule,
            event_ids=(event.id or 0,),
            ts=event.ts,
        )
        if self.store.claim_delivery(notice):
            # One line, the headline: `steward summary` prints the whole text.
            self.store.mark_delivered(notice.key, self.log_sink.deliver(notice))

    def _refresh_silences(self, now: float, *, force: bool = False) -> list[Silence]:
        if force or now - self._silences_at >= SILENCE_REFRESH:
            self._silences = self.store.silences(active_at=now)
            self._silences_at = now
        return self._silences

    def cycle(self, now: float) -> int:
        """One pass: decide on new events, run timers, deliver; returns events decided."""
        self._check_desktop(now)
        self._retry_log()
        events = self.store.unprocessed_fair()
        # Decisions use the silences in force now: one added or removed a moment ago counts.
        silences = self._refresh_silences(now, force=bool(events))
        acked_early: list[int] = []
        decided: list[tuple[int, Status, tuple[int, ...]]] = []
        for event in events:
            assert event.id is not None  # read back from the store
            if event.status is Status.ACKED:
                acked_early.append(event.id)  # acknowledged before it was decided
            if event.kind is Kind.SYSTEM and event.rule == SESSION_GONE:
                self.upkeep.session_gone(event.detail or event.session)
            if event.kind is Kind.SUMMARY:
                self._summary(event)
                decided.append((event.id, Status.DELIVERED, ()))
                continue
            # A cycle that failed half way (the store could not be written) is tried again
            # with the decisions it made: the policy is asked once per event.
            decision = self._undecided.get(event.id)
            if decision is None:
                decision = self._undecided[event.id] = self.policy.offer(
                    event, now, silences=silences
                )
            for notice in decision.notices:
                self.deliver(notice)
            decided.append((event.id, decision.status, decision.resolved))
        # One transaction records the cycle's decisions (each notice was recorded before it
        # went out, so a crash before this repeats nothing: the claims stand).
        self.store.decide_many(decided)
        for event_id, _status, _resolved in decided:
            self._undecided.pop(event_id, None)
        if self.alerts is not None:
            statuses = {event_id: status for event_id, status, _resolved in decided}
            for event in events:
                if event.kind is not Kind.SUMMARY and event.id in statuses:
                    self.alerts.offer(event, statuses[event.id], now)
        self._ack_cursor, acked = self.store.acks_after(self._ack_cursor)
        for notice in self.policy.tick(now, acked=acked + acked_early, silences=silences):
            self.deliver(notice)
            if self.alerts is not None:
                self.alerts.escalated(notice, now)
        for sink in self.sinks.values():
            sink.flush()
        if self.alerts is not None:
            self.alerts.step(now, silences)
        if self.metrics is not None:
            self.metrics.maybe_write(now)
        if self.upkeep.due(now):
            self.upkeep.run(now, ack_cursor=self._ack_cursor)
        self.cycles += 1
        return len(events)

    def _safe_cycle(self, now: float) -> int:
        """A cycle that a store or disk fault cannot end: undecided events wait for the next."""
        try:
            busy = self.cycle(now)
        except (StewardError, OSError) as exc:
            self._alert("store", f"the escalation daemon cannot use its store ({exc});"
                        " events wait and it tries again")
            time.sleep(FAULT_RETRY)
            return 0
        if self._fault is not None and not self._log_retry:
            self._fault = None
            self._note("the store and the log work again", Severity.INFO, now)
        return busy

    def resume(self, now: float) -> None:
        """After a restart: the policy's state, log lines and reports claimed but never written.

        A log line that could not be written (a full disk) waits in memory; if the daemon
        was restarted meanwhile (its heartbeat could not be written either), the store's
        claim says what is still to write.
        """
        window = max(self.config.policy.cooldown, self.config.policy.escalate_after, 60.0)
        self.policy.restore(
            self.store.deliveries(since=now - window), self.store.open_events(since=now - window)
        )
        self._log_retry.extend(self.store.undelivered(Channel.LOG, since=now - KEYS_REQUEUE))
        if self.keys is not None:
            for notice in self.store.undelivered(Channel.KEYS, since=now - KEYS_REQUEUE):
                self.keys.deliver(notice)

    # -- heartbeat and the reconciler's watchdog ------------------------------------------

    def beat(self, now: float) -> None:
        """The daemon's heartbeat (the reconciler watches it), then a look at the reconciler's."""
        if now - self._last_beat < beat_every(self.config):
            return
        self._last_beat = now
        self.store.beat(Heartbeat(assistant="escalation", pid=os.getpid(), started=self.started,
                                  ts=now, ticks=self.cycles, captures=0, failures=0, skipped=0,
                                  first_capture=None))
        for hb in self.store.heartbeats():
            if hb.assistant != "reconciler" or hb.pid in self._killed:
                continue
            if is_hung(hb, now, self.config) and process_runs(hb.pid, "supervisor", "reconcile"):
                # Circus respawns what dies: SIGKILL is the restart (SIGTERM waits on a SIGCONT).
                self.store.add_events([hung_event(hb, now, by="escalation")])
                log.warning("the reconciler (pid %d) is hung; restarting it", hb.pid)
                self._killed.add(hb.pid)
                try:
                    os.kill(hb.pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue

    def run(self) -> None:
        def stop(_sig: int, _frame: FrameType | None) -> None:
            self._running = False

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.resume(time.time())
        log.info("escalation daemon up; log at %s", self.home.log_file)
        try:
            while self._running:
                busy = self._safe_cycle(time.time())
                try:
                    self.beat(time.time())
                except (StewardError, OSError) as exc:  # a store fault: _safe_cycle says it
                    log.warning("cannot write the daemon's heartbeat: %s", exc)
                if not busy:
                    time.sleep(POLL)
        finally:
            for sink in self.sinks.values():
                sink.close()
            if self.alerts is not None:
                self.alerts.close()
            self.store.close()
