"""The escalation daemon: reads new events, applies policy, delivers through the sinks."""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from pathlib import Path
from types import FrameType

from .alerts import AlertFeed
from .core.config import Config
from .core.events import Event, Kind, Severity, Status
from .core.notice import Channel, Notice
from .core.paths import StewardHome
from .core.silence import Silence
from .core.store import Heartbeat, Store
from .core.tmux import Tmux
from .core.watchdog import beat_every, hung_event, is_hung, process_runs
from .metrics import MetricsFile
from .policy import Policy
from .sinks.alertmanager import AlertmanagerSink
from .sinks.base import Sink
from .sinks.desktop import DesktopSink
from .sinks.log import NOTE_RULE, LogSink
from .sinks.pm import DisplaySink, KeysSink

__all__ = ["Daemon"]

log = logging.getLogger(__name__)

POLL = 0.1
SILENCE_REFRESH = 1.0
DESKTOP_RECHECK = 60.0


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
        if config.pm.mode == "send-keys":
            self.sinks[Channel.KEYS] = KeysSink(self.tmux, config.pm.target)
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

    def _log_line(self, text: str, severity: Severity, ts: float) -> None:
        """A line of Steward's own (a note, a summary) in the log, through the log sink."""
        note = Notice(key="", channel=Channel.LOG, severity=severity, title="", body=text,
                      rule=NOTE_RULE, ts=ts)
        if not self.log_sink.deliver(note):
            log.warning("cannot write to the log: %s", text)

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
        self.store.mark_delivered(notice.key, ok)

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
            for line in (event.detail or event.text).splitlines():
                self._log_line(line, Severity.INFO, event.ts)
            self.store.mark_delivered(notice.key, True)

    def _refresh_silences(self, now: float, *, force: bool = False) -> list[Silence]:
        if force or now - self._silences_at >= SILENCE_REFRESH:
            self._silences = self.store.silences(active_at=now)
            self._silences_at = now
        return self._silences

    def cycle(self, now: float) -> int:
        """One pass: decide on new events, run timers, deliver; returns events decided."""
        self._check_desktop(now)
        events = self.store.unprocessed()
        # Decisions use the silences in force now: one added or removed a moment ago counts.
        silences = self._refresh_silences(now, force=bool(events))
        for event in events:
            assert event.id is not None  # read back from the store
            if event.kind is Kind.SUMMARY:
                self._summary(event)
                self.store.decide(event.id, Status.DELIVERED)
                continue
            decision = self.policy.offer(event, now, silences=silences)
            for notice in decision.notices:
                self.deliver(notice)
            self.store.decide(event.id, decision.status, resolved=decision.resolved)
            if self.alerts is not None:
                self.alerts.offer(event, decision.status, now)
        acked = self.store.acked_ids(since=now - 2 * self.config.policy.escalate_after)
        for notice in self.policy.tick(now, acked=acked, silences=silences):
            self.deliver(notice)
            if self.alerts is not None:
                self.alerts.escalated(notice, now)
        for sink in self.sinks.values():
            sink.flush()
        if self.alerts is not None:
            self.alerts.step(now, silences)
        if self.metrics is not None:
            self.metrics.maybe_write(now)
        self.cycles += 1
        return len(events)

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
        now = time.time()
        window = max(self.config.policy.cooldown, self.config.policy.escalate_after, 60.0)
        self.policy.restore(
            self.store.deliveries(since=now - window), self.store.open_events(since=now - window)
        )
        log.info("escalation daemon up; log at %s", self.home.log_file)
        try:
            while self._running:
                busy = self.cycle(time.time())
                self.beat(time.time())
                if not busy:
                    time.sleep(POLL)
        finally:
            for sink in self.sinks.values():
                sink.close()
            if self.alerts is not None:
                self.alerts.close()
            self.store.close()
