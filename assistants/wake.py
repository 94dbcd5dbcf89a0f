"""The clock's wake-ups, as a session assistant receives them: one private datagram socket per
session in the run dir, with a registry file naming the session and its phase.

The clock (`clock.py`, the one process that runs APScheduler for every session) lists a
session's panes at the session's phase and sends the rows here when something may have
changed, or as a keep-alive; the session assistant then needs neither a scheduler of its
own nor a `list-panes` per tick.  Without a wake-up for a few intervals (the clock is
down), it ticks on its own, listing its panes itself, until wake-ups come again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import attrs

from .timing import first_run

__all__ = ["Registration", "WakeTicker", "registrations", "wake_paths"]

log = logging.getLogger(__name__)

# Without a wake-up for this many intervals, the assistant ticks by itself.
SELF_TICK_AFTER = 3.0
REGISTER_RETRY = 5.0  # seconds between two tries to register when it failed
MAX_DATAGRAM = 1 << 20


@attrs.frozen(kw_only=True)
class Registration:
    """A session assistant waiting for wake-ups: its session, phase and socket."""

    session: str
    phase: float
    socket: Path
    pid: int


def wake_paths(run_dir: Path, session: str) -> tuple[Path, Path]:
    """The socket and registry file of `session` (short names: a socket path is <= 107 bytes)."""
    key = hashlib.sha1(session.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return run_dir / f"w-{key}.sock", run_dir / f"w-{key}.json"


def registrations(run_dir: Path) -> list[Registration]:
    """Every registered session assistant whose socket is still there."""
    out = []
    for path in sorted(run_dir.glob("w-*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            reg = Registration(session=str(data["session"]), phase=float(data["phase"]),
                               socket=path.with_suffix(".sock"), pid=int(data["pid"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if reg.socket.exists():
            out.append(reg)
    return out


@attrs.define
class _Timed:
    name: str
    seconds: float
    fn: Callable[[], None]
    phase: float
    due: float


class WakeTicker:
    """The capture job runs on each wake-up (or by itself when none come); other jobs on timers.

    `rows` holds the pane rows of the last wake-up (None when the assistant must list its
    panes itself).  Jobs run in this one thread, one after the other.
    """

    counts_gaps = False  # wake-ups come only when something may have changed

    def __init__(
        self,
        run_dir: Path,
        *,
        session: str,
        phase: float,
        interval: float,
        on_error: Callable[[str, BaseException], None] = lambda _name, _exc: None,
    ) -> None:
        self.interval = interval
        self._on_error = on_error
        self.phase = phase
        self.rows: list[str] | None = None
        self._capture: Callable[[], None] | None = None
        self._timed: list[_Timed] = []
        self._running = False
        self.socket_path, self._registry = wake_paths(run_dir, session)
        self._spec = json.dumps({"session": session, "phase": phase, "pid": os.getpid()})
        self._sock: socket.socket | None = None
        self._tried = -math.inf
        self._said = False
        self._register()

    def _register(self) -> None:
        """Bind the socket and write the registry file; on failure (a full disk) try later.

        Until it is registered the clock does not know it, and the assistant ticks by itself.
        """
        self._tried = time.monotonic()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        old = os.umask(0o177)
        try:
            with contextlib.suppress(FileNotFoundError):
                self.socket_path.unlink()
            sock.bind(str(self.socket_path))
            tmp = self._registry.with_suffix(".tmp")
            tmp.write_text(self._spec)
            tmp.chmod(0o600)
            tmp.replace(self._registry)
        except OSError as exc:
            sock.close()
            (log.debug if self._said else log.warning)(
                "cannot register for the clock's wake-ups (%s); ticking alone, trying again"
                " every %gs", exc, REGISTER_RETRY)
            self._said = True
            return
        finally:
            os.umask(old)
        self._sock = sock

    def every(
        self, name: str, seconds: float, fn: Callable[[], None], *, phase: float = 0.0
    ) -> None:
        if name == "capture":
            self._capture = fn
        else:
            due = first_run(time.time(), seconds, phase)
            self._timed.append(_Timed(name, seconds, fn, phase, due))

    def _wait(self, timeout: float) -> bytes | None:
        if self._sock is None:
            if time.monotonic() - self._tried >= REGISTER_RETRY:
                self._register()
            if self._sock is None:
                time.sleep(max(timeout, 0.0))
                return None
        self._sock.settimeout(max(timeout, 0.0))
        try:
            return self._sock.recv(MAX_DATAGRAM)
        except (TimeoutError, BlockingIOError):
            return None

    def run(self) -> None:
        """Run jobs until `stop()`: captures on wake-ups, timers when due."""
        self._running = True
        last_wake = time.monotonic()
        next_self_tick = first_run(time.time(), self.interval, self.phase)
        try:
            while self._running:
                now = time.time()
                due = min((t.due for t in self._timed), default=now + self.interval)
                alone = time.monotonic() - last_wake >= SELF_TICK_AFTER * self.interval
                until = min(due, next_self_tick) if alone else due
                data = self._wait(min(until - now, self.interval, 0.5))
                if data is not None:
                    last_wake = time.monotonic()
                    self._take(data)
                    self._run_capture()
                elif alone and time.time() >= next_self_tick:
                    self.rows = None  # no clock: the assistant lists its panes itself
                    self._run_capture()
                    next_self_tick = first_run(time.time(), self.interval, self.phase)
                for t in self._timed:
                    if time.time() >= t.due:
                        t.due = first_run(time.time(), t.seconds, t.phase)
                        self._call(t.name, t.fn)
        finally:
            self._close()

    def _take(self, data: bytes) -> None:
        try:
            msg = json.loads(data)
            rows = msg.get("rows") if isinstance(msg, dict) else None
        except ValueError:
            rows = None
        self.rows = [r for r in rows if isinstance(r, str)] if isinstance(rows, list) else None

    def _run_capture(self) -> None:
        if self._capture is not None:
            self._call("capture", self._capture)

    def _call(self, name: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:  # a job must never end the loop; APScheduler does the same
            log.exception("job %s failed", name)
            self._on_error(name, exc)

    def stop(self) -> None:
        self._running = False

    def _close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        for path in (self._registry, self.socket_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
