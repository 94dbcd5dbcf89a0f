"""The reconciler: one `session:<name>` assistant per watched tmux session, no more, no less."""

from __future__ import annotations

import fnmatch
import itertools
import logging
import os
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
from escalation.core.store import Heartbeat, Store
from escalation.core.tmux import Tmux
from escalation.core.watchdog import beat_every, hung_event, is_hung, round_every

from .arbiter import Arbiter, WatcherSpec
from .flapping import Flapping
from .pm_session import ensure_pm_session

__all__ = ["Reconciler", "assistant_args", "next_phase", "watched_sessions"]

log = logging.getLogger(__name__)

PREFIX = "session:"
FIXED = ("qa", "deploy", "escalation", "clock")


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
        # Every round lists the sessions: through a control client, not tmux processes.
        self.tmux = Tmux.through_pm(config, home.run_dir)
        self.arbiter = Arbiter(home.run_dir)
        self.store = Store(home.db)
        self.phases: dict[str, float] = {}
        self.names: dict[str, str] = {}
        self._running = True
        self._pids: dict[str, int] = {}
        self._flapping = Flapping()
        self._killed: set[int] = set()  # hung pids signalled, not to be signalled twice
        self.started = time.time()
        self.rounds = 0
        self._server_alive: bool | None = None
        self._last_beat = 0.0

    def spec(self, session: str, phase: float) -> WatcherSpec:
        return WatcherSpec(
            name=PREFIX + session,
            args=assistant_args(self.config_file, "session", session, "--phase", f"{phase:.4f}"),
        )

    def once(self) -> tuple[list[str], list[str]]:
        """One reconciliation; the sessions added and removed."""
        alive = self.tmux.is_alive()
        sessions = self.tmux.sessions() if alive else []
        self._check_server(alive, sessions)
        wanted = watched_sessions(self.config, sessions)
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
            self.beat(time.time())  # a long round of adds is not a hang
        for name in sorted(running - set(by_key)):
            self.arbiter.remove(name)
            session = self.names.pop(name, name[len(PREFIX) :])
            self.phases.pop(session.lower(), None)
            removed.append(session)
        if removed and alive and not self.tmux.is_alive():
            alive = False  # the server died while it was being listed: it took them all
        if not alive and self._server_alive:
            # One loud event for a server that took every session with it, not one per session.
            self.store.add_events([self._server_gone(removed, time.time())])
        elif removed:
            now = time.time()
            self.store.add_events([self._gone(s, now) for s in removed])
        self._server_alive = alive
        gone = {(PREFIX + s).lower() for s in removed}
        watched = sorted((running - gone) | set(FIXED))
        statuses = self.arbiter.status()
        heartbeats = self.store.heartbeats()
        self._check_flapping(set(by_key) | set(FIXED), statuses)
        self._check_restarts(watched, heartbeats)
        self._check_hung(watched, heartbeats)
        self.rounds += 1
        self.beat(time.time())
        for s in added:
            log.info("watching session %s", s)
        for s in removed:
            log.info("session %s is gone; its assistant stopped", s)
        return added, removed

    def _check_server(self, alive: bool, sessions: Sequence[str]) -> None:
        """A tmux server that came back gets the PM's session (and its `steward tail` pane)
        again; the assistants' control clients attach to it when they next read."""
        if not alive or self.config.pm.session in sessions:
            return
        if ensure_pm_session(self.config, self.home, config_file=self.config_file,
                             start_server=False):
            now = time.time()
            back = self._server_alive is False
            text = (f"tmux server is back; the PM session {self.config.pm.session} was made"
                    " again" if back else f"the PM session {self.config.pm.session} was made again")
            log.info("%s", text)
            self.store.add_events([_system(
                now, session="steward", target=self.config.pm.session,
                rule="system.pm_session_restored", severity=Severity.INFO, text=text,
                key=f"{text} {now}")])

    def _server_gone(self, sessions: Sequence[str], now: float) -> Event:
        names = ", ".join(sessions[:20]) + (f" and {len(sessions) - 20} more"
                                             if len(sessions) > 20 else "")
        text = (f"the tmux server is gone, and with it {len(sessions)} watched session(s)"
                f"{': ' + names if sessions else ''}; Steward waits for a new server")
        return _system(now, session="steward", target="tmux", rule="system.tmux_server_gone",
                       severity=Severity.CRITICAL, text=text, detail="\n".join(sessions),
                       key=f"tmux server gone {now}")

    def _gone(self, session: str, now: float) -> Event:
        text = f"session {session} is gone; its assistant was stopped"
        return _system(now, session=session, target=session, rule="system.session_gone",
                       severity=Severity.INFO, text=text, detail=session, key=text)

    def _flap_event(self, name: str, text: str, episode: int) -> Event:
        session = name[len(PREFIX):] if name.startswith(PREFIX) else "steward"
        return _system(time.time(), session=self.names.get(name, session), target=name,
                       rule="system.assistant_flapping", severity=Severity.ERROR,
                       text=f"{text}; see its log in {self.home.log_dir}",
                       key=f"flapping {name} episode {episode}")

    def _check_restarts(self, names: Sequence[str], heartbeats: Sequence[Heartbeat]) -> None:
        """An assistant that keeps running with a new pid is flapping: its pid is read from its
        heartbeat while that is fresh, else from Circus (one that dies before it beats)."""
        now = time.time()
        fresh = {hb.assistant.lower(): hb.pid for hb in heartbeats
                 if now - hb.ts <= 2 * round_every(self.config, hb.assistant.lower())}
        for name in names:
            pid = fresh.get(name)
            if pid is None:
                try:
                    pids = self.arbiter.pids(name)
                except StewardError:
                    continue
                if not pids:
                    continue
                pid = pids[0]
            old = self._pids.get(name)
            self._pids[name] = pid
            if old is None or old == pid:
                continue
            verdict = self._flapping.restarted(name, now)
            if verdict.report:
                self.store.add_events([self._flap_event(name, verdict.report, verdict.episode)])
            if verdict.stop:
                log.warning("%s keeps dying; stopped for %.0fs", name,
                            self._flapping.backoff(name))
                self.arbiter.stop(name)
        for gone in set(self._pids) - set(names):
            self._pids.pop(gone, None)

    def _check_flapping(self, wanted: set[str], statuses: dict[str, str]) -> None:
        """A stopped watcher waits out its backoff (`flapping`) before it is started again;
        a watcher that Circus stopped is reported once per episode."""
        now = time.time()
        for name, status in statuses.items():
            if name not in wanted:
                continue
            verdict = self._flapping.status(name, status, now)
            if verdict.report:
                self.store.add_events([self._flap_event(name, verdict.report, verdict.episode)])
            if verdict.start:
                log.info("starting %s again after its backoff", name)
                self.arbiter.start(name)
        self._flapping.forget(set(statuses))

    def _check_hung(self, names: Sequence[str], heartbeats: Sequence[Heartbeat]) -> None:
        """A process that runs but stopped beating is hung: report it, then SIGKILL it through
        Circus, which starts it anew (a SIGSTOPped process never sees a SIGTERM)."""
        now = time.time()
        wanted = set(names)
        for hb in heartbeats:
            name = hb.assistant.lower()
            if name not in wanted or hb.pid in self._killed or not is_hung(hb, now, self.config):
                continue
            try:
                if hb.pid not in self.arbiter.pids(name):
                    continue  # an old row: that process is gone, Circus runs another
            except StewardError:
                continue
            session = self.names.get(name, name[len(PREFIX):]) if name.startswith(PREFIX) \
                else "steward"
            self.store.add_events([hung_event(hb, now, by="reconciler", session=session)])
            log.warning("%s (pid %d) is hung; restarting it", name, hb.pid)
            self._killed.add(hb.pid)
            self.arbiter.call("signal", name=name, pid=hb.pid, signum=signal.SIGKILL.value)

    def beat(self, now: float) -> None:
        """The reconciler's heartbeat, which the escalation daemon watches."""
        if now - self._last_beat < beat_every(self.config) and self.rounds:
            return
        self._last_beat = now
        self.store.beat(Heartbeat(assistant="reconciler", pid=os.getpid(), started=self.started,
                                  ts=now, ticks=self.rounds, captures=0, failures=0, skipped=0,
                                  first_capture=None))

    def run(self) -> None:
        def stop(_sig: int, _frame: FrameType | None) -> None:
            self._running = False

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        interval = self.config.watch.discovery_interval
        self.beat(time.time())
        try:
            while self._running:
                started = time.monotonic()
                try:
                    self.once()
                except StewardError as exc:
                    log.warning("reconcile failed: %s", exc)
                self.beat(time.time())
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
