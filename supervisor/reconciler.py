"""The reconciler: one `session:<name>` assistant per watched tmux session, no more, no less."""

from __future__ import annotations

import collections
import fnmatch
import itertools
import logging
import signal
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import FrameType

from escalation.core.config import Config
from escalation.core.errors import StewardError
from escalation.core.events import Event, Kind, Severity, new_event
from escalation.core.paths import StewardHome
from escalation.core.store import Store
from escalation.core.tmux import Tmux

from .arbiter import Arbiter, WatcherSpec

__all__ = ["Reconciler", "assistant_args", "next_phase", "watched_sessions"]

log = logging.getLogger(__name__)

PREFIX = "session:"
# An assistant respawned this many times within FLAP_WINDOW seconds is flapping.
FLAP_RESTARTS = 3
FLAP_WINDOW = 120.0
FLAP_REPORT_EVERY = 600.0


def watched_sessions(config: Config, sessions: Iterable[str]) -> list[str]:
    """Sessions that match the include globs, no exclude glob, and are not the PM's."""
    out = []
    for name in sessions:
        if name == config.pm.session:
            continue
        if not any(fnmatch.fnmatchcase(name, g) for g in config.watch.include):
            continue
        if any(fnmatch.fnmatchcase(name, g) for g in config.watch.exclude):
            continue
        out.append(name)
    return sorted(out)


def next_phase(taken: Sequence[float]) -> float:
    """The middle of the widest gap between phases already given out (0..1, circular)."""
    if not taken:
        return 0.0
    points = sorted(p % 1.0 for p in taken)
    best_start, best_gap = points[-1], points[0] + 1.0 - points[-1]
    for a, b in itertools.pairwise(points):
        if b - a > best_gap:
            best_start, best_gap = a, b - a
    return (best_start + best_gap / 2) % 1.0


def assistant_args(config_file: str | None, *command: str) -> tuple[str, ...]:
    """The command line of an assistant, for Circus."""
    head: tuple[str, ...] = (sys.executable, "-m", "assistants")
    if config_file:
        head += ("--config", config_file)
    return head + tuple(command)


class Reconciler:
    """Adds and removes session assistants as sessions appear and vanish."""

    def __init__(self, config: Config, home: StewardHome, *, config_file: str | None) -> None:
        self.config = config
        self.home = home
        self.config_file = config_file
        self.tmux = Tmux(socket_name=config.tmux.socket_name, socket_path=config.tmux.socket_path)
        self.arbiter = Arbiter(home.run_dir)
        self.store = Store(home.db)
        self.phases: dict[str, float] = {}
        self.names: dict[str, str] = {}
        self._running = True
        self._flapping_reported: set[str] = set()
        self._pids: dict[str, tuple[int, ...]] = {}
        self._restarts: dict[str, collections.deque[float]] = {}
        self._flap_said: dict[str, float] = {}

    def spec(self, session: str, phase: float) -> WatcherSpec:
        return WatcherSpec(
            name=PREFIX + session,
            args=assistant_args(self.config_file, "session", session, "--phase", f"{phase:.4f}"),
        )

    def once(self) -> tuple[list[str], list[str]]:
        """One reconciliation; the sessions added and removed."""
        wanted = watched_sessions(self.config, self.tmux.sessions())
        running = {w for w in self.arbiter.watchers() if w.startswith(PREFIX)}
        by_key = {(PREFIX + s).lower(): s for s in wanted}
        added, removed = [], []
        fresh = [s for k, s in by_key.items() if k not in running]
        if not self.phases and len(fresh) > 1:
            # The first round spreads all sessions evenly over the interval.
            for i, s in enumerate(fresh):
                self.phases[s.lower()] = i / len(fresh)
        for session in fresh:
            phase = self.phases.get(session.lower())
            if phase is None:
                phase = next_phase(list(self.phases.values()))
                self.phases[session.lower()] = phase
            self.arbiter.add(self.spec(session, phase), self.home.log_dir)
            self.names[(PREFIX + session).lower()] = session
            added.append(session)
        for name in sorted(running - set(by_key)):
            self.arbiter.remove(name)
            session = self.names.pop(name, name[len(PREFIX) :])
            self.phases.pop(session.lower(), None)
            removed.append(session)
        if removed:
            now = time.time()
            self.store.add_events([self._gone(s, now) for s in removed])
        self._check_flapping(set(by_key))
        gone = {(PREFIX + s).lower() for s in removed}
        self._check_restarts(sorted((running - gone) | {"qa", "deploy", "escalation"}))
        for s in added:
            log.info("watching session %s", s)
        for s in removed:
            log.info("session %s is gone; its assistant stopped", s)
        return added, removed

    def _gone(self, session: str, now: float) -> Event:
        text = f"session {session} is gone; its assistant was stopped"
        return _system(now, session=session, target=session, rule="system.session_gone",
                       severity=Severity.INFO, text=text, detail=session, key=text)

    def _check_restarts(self, names: Sequence[str]) -> None:
        """An assistant that keeps starting anew (its heartbeat shows a new pid) is flapping."""
        now = time.time()
        wanted = set(names)
        events = []
        for hb in self.store.heartbeats():
            name = hb.assistant.lower()
            if name not in wanted:
                continue
            old = self._pids.get(name)
            self._pids[name] = (hb.pid,)
            if old is None or old == (hb.pid,):
                continue
            seen = self._restarts.setdefault(name, collections.deque())
            seen.append(now)
            while seen and now - seen[0] > FLAP_WINDOW:
                seen.popleft()
            said = self._flap_said.get(name)
            if len(seen) >= FLAP_RESTARTS and (said is None or now - said > FLAP_REPORT_EVERY):
                self._flap_said[name] = now
                text = (f"assistant {hb.assistant} restarted {len(seen)} times in the last"
                        f" {FLAP_WINDOW:.0f}s; see its log in {self.home.log_dir}")
                session = name[len(PREFIX):] if name.startswith(PREFIX) else "steward"
                events.append(_system(
                    now, session=self.names.get(name, session), target=hb.assistant,
                    rule="system.assistant_flapping", severity=Severity.ERROR, text=text,
                    key=f"flapping {name}"))
        if events:
            self.store.add_events(events)
        for gone in set(self._pids) - wanted:
            self._pids.pop(gone, None)

    def _check_flapping(self, wanted: set[str]) -> None:
        """Circus stops a watcher that keeps dying; say so once and try it again."""
        statuses = self.arbiter.status()
        for name, status in statuses.items():
            if status != "stopped" or not (name in wanted or name in ("qa", "deploy")):
                continue
            if name not in self._flapping_reported:
                self._flapping_reported.add(name)
                text = f"assistant {name} keeps dying; Circus stopped it, restarting it"
                session = name[len(PREFIX):] if name.startswith(PREFIX) else "steward"
                self.store.add_events([_system(
                    time.time(), session=session, target=name, rule="system.assistant_flapping",
                    severity=Severity.ERROR, text=text, key=f"flapping {name}")])
            self.arbiter.start(name)

    def run(self) -> None:
        def stop(_sig: int, _frame: FrameType | None) -> None:
            self._running = False

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        interval = self.config.watch.discovery_interval
        try:
            while self._running:
                started = time.monotonic()
                try:
                    self.once()
                except StewardError as exc:
                    log.warning("reconcile failed: %s", exc)
                rest = interval - (time.monotonic() - started)
                deadline = time.monotonic() + max(rest, 0.0)
                while self._running and time.monotonic() < deadline:
                    time.sleep(min(0.1, max(deadline - time.monotonic(), 0.0)))
        finally:
            self.arbiter.close()
            self.store.close()


def _system(
    now: float, *, session: str, target: str, rule: str, severity: Severity, text: str,
    key: str, detail: str = "",
) -> Event:
    """An event about Steward's own processes, as the reconciler sees them."""
    return new_event(ts=now, session=session, target=target, assistant="reconciler", rule=rule,
                     severity=severity, kind=Kind.SYSTEM, text=text, detail=detail, line=key,
                     scope="reconciler")


def config_file_arg(path: str | None) -> str | None:
    return str(Path(path).expanduser().absolute()) if path else None
