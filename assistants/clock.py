"""The clock: the one process that runs APScheduler for every session assistant.

At each session's phase of the capture interval it lists the session's panes (through one
control-mode client) and wakes the session's assistant with the rows when a pane may have
changed (its counters moved, or it was active a moment ago), or every few intervals to keep
its states and heartbeat going.  Idle sessions then cost nothing, and session assistants
load no scheduler of their own.

Phases are grouped in SLOTS staggered jobs per interval: one job lists the panes of all its
sessions on one control line (a round trip and a scheduler run per slot, not per session).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import socket
import time
from types import FrameType

from escalation.core.config import Config
from escalation.core.errors import TmuxError
from escalation.core.paths import StewardHome
from escalation.core.store import Heartbeat, Store
from escalation.core.tmux import PANE_FORMAT, PaneInfo, Tmux, joined
from escalation.core.watchdog import beat_every

from .pane.reader import signature
from .scheduler import Ticker
from .wake import Registration, registrations

__all__ = ["Clock"]

log = logging.getLogger(__name__)

# A session whose panes showed no change is still woken this often (in intervals).
KEEPALIVE = 2
# Output this recent (window_activity counts whole seconds) may not have been read yet.
RECENT = 2.0
# Staggered jobs per capture interval; a session's phase is rounded to the nearest one.
SLOTS = 10


def slot_of(phase: float) -> int:
    """The job (0..SLOTS-1) that wakes a session of this phase (0..1)."""
    return round(phase * SLOTS) % SLOTS


def _key(slot: int) -> str:
    return f"slot-{slot}"


class _Session:
    def __init__(self, reg: Registration) -> None:
        self.reg = reg
        self.signatures: dict[str, tuple[object, ...]] = {}
        self.quiet = 0


class Clock:
    """Wakes each registered session assistant at its phase with its panes' rows."""

    def __init__(self, config: Config, home: StewardHome) -> None:
        self.config = config
        self.home = home
        self.interval = config.capture.interval
        self.tmux = Tmux.through_pm(config, home.run_dir)
        self.sessions: dict[str, _Session] = {}
        self._slots: set[str] = set()  # the slot jobs added
        self._retiring: set[str] = set()  # jobs of empty slots: paused, then removed
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)  # a slow assistant misses a wake-up, never the clock
        self._ticker = Ticker(on_error=lambda name, exc: log.error("job %s: %r", name, exc))
        self.store = Store(home.db)
        self.started = time.time()
        self.rounds = 0
        self._last_beat = 0.0

    def beat(self, now: float) -> None:
        """The clock's heartbeat, from its scheduler's thread: the reconciler watches it."""
        self.rounds += 1
        if now - self._last_beat < beat_every(self.config):
            return
        self._last_beat = now
        self.store.beat(Heartbeat(assistant="clock", pid=os.getpid(), started=self.started,
                                  ts=now, ticks=self.rounds, captures=0, failures=0, skipped=0,
                                  first_capture=None))

    def rescan(self) -> None:
        """Follow the assistants that registered or went away."""
        self.beat(time.time())
        found = {r.socket.name: r for r in registrations(self.home.run_dir)}
        for key in set(self.sessions) - set(found):
            del self.sessions[key]
        for key, reg in found.items():
            known = self.sessions.get(key)
            if known is None or known.reg != reg:
                self.sessions[key] = _Session(reg)  # a new assistant of the session
        wanted = {_key(slot_of(s.reg.phase)) for s in self.sessions.values()}
        self._retiring |= self._slots - wanted
        self._retiring = {k for k in self._retiring if k not in wanted
                          and not self._ticker.retire(k)}
        for slot in range(SLOTS):
            key = _key(slot)
            if key in wanted and not self._ticker.has(key):
                self._ticker.every(key, self.interval, functools.partial(self.wake_slot, slot),
                                   phase=slot / SLOTS)
        self._slots = wanted

    def _rows(self, names: list[str]) -> dict[str, list[str] | None]:
        """Each session's list-panes rows, on one control line; None where unknown."""
        if not self.config.capture.control_mode or not names:
            return dict.fromkeys(names)  # one tmux process per list would cost more
        listing = {name: ["list-panes", "-s", "-t", f"={name}", "-F", PANE_FORMAT]
                   for name in names}
        try:
            blocks = self.tmux.blocks(*joined(list(listing.values())))
        except TmuxError:  # a session vanished, and tmux drops the rest of the line
            blocks = None
        if blocks is not None and len(blocks) == len(names):
            return dict(zip(names, blocks, strict=True))
        out: dict[str, list[str] | None] = {}
        for name, args in listing.items():  # one at a time
            try:
                out[name] = self.tmux.cmd(*args)
            except TmuxError:
                out[name] = None  # the assistant finds out for itself (gone session, no server)
        return out

    def _changed(self, s: _Session, rows: list[str], now: float) -> bool:
        sigs: dict[str, tuple[object, ...]] = {}
        recent = False
        for row in rows:
            try:
                info = PaneInfo.parse(row)
            except TmuxError:
                return True
            sigs[info.pane_id] = signature(info)
            recent = recent or now - info.activity <= RECENT
        changed = recent or sigs != s.signatures
        s.signatures = sigs
        return changed

    def wake_slot(self, slot: int) -> None:
        """Wake the sessions of one slot whose panes may have changed."""
        due = [s for s in self.sessions.values() if slot_of(s.reg.phase) == slot]
        rows = self._rows(sorted({s.reg.session for s in due}))
        now = time.time()
        for s in due:
            self._wake(s, rows.get(s.reg.session), now)

    def _wake(self, s: _Session, rows: list[str] | None, now: float) -> None:
        if rows is not None and not self._changed(s, rows, now):
            s.quiet += 1
            if s.quiet < KEEPALIVE:
                return
        s.quiet = 0
        message = json.dumps({"ts": now, "rows": rows}).encode()
        try:
            self._sock.sendto(message, str(s.reg.socket))
        except OSError as exc:  # the assistant is restarting: its next registration counts
            log.debug("cannot wake %s: %s", s.reg.session, exc)

    def run(self) -> None:
        def stop(_sig: int, _frame: FrameType | None) -> None:
            self._ticker.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.rescan()
        self._ticker.every("rescan", max(0.5, self.config.watch.discovery_interval / 2),
                           self.rescan)
        log.info("clock: waking session assistants every %gs", self.interval)
        try:
            self._ticker.run()
        finally:
            self._sock.close()
            self.tmux.close()
            self.store.close()
