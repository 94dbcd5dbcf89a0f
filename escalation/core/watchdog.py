"""When a live process counts as hung: the one rule the reconciler and the daemon both apply.

Every Steward process writes a heartbeat (`store.beat`) from the loop that does its work, never
from a side thread, so that a process stopped by SIGSTOP or deadlocked stops beating.  A process
whose heartbeat is older than `hung_after` seconds while its pid is still the one Circus runs is
hung: it is reported as `system.assistant_hung` (error) and restarted.  The reconciler watches the
assistants and the escalation daemon; the daemon watches the reconciler.
"""

from __future__ import annotations

from pathlib import Path

from .config import Config
from .events import Event, Kind, Severity, new_event
from .store import Heartbeat

__all__ = [
    "HEARTBEAT_EVERY",
    "HUNG_RULE",
    "beat_every",
    "hung_after",
    "hung_event",
    "is_hung",
    "process_runs",
    "round_every",
]

# The longest gap between two heartbeats of a healthy process (shorter when hung_after is short).
HEARTBEAT_EVERY = 5.0
HUNG_RULE = "system.assistant_hung"
# A heartbeat is late after this many of its own intervals, whatever `watch.hung_after` says.
LATE_BEATS = 3


def beat_every(config: Config) -> float:
    """Seconds between two heartbeats: four of them fit into `watch.hung_after`."""
    return min(HEARTBEAT_EVERY, config.watch.hung_after / 4)


def round_every(config: Config, name: str) -> float:
    """Seconds between two heartbeats of `name` when healthy: a process beats at most once per
    round of its own work (an assistant per capture, the reconciler per discovery round)."""
    if name == "reconciler":
        return max(config.watch.discovery_interval, beat_every(config))
    if name == "escalation":
        return beat_every(config)
    return max(config.capture.interval, beat_every(config))


def hung_after(config: Config, name: str) -> float:
    """Seconds without a heartbeat after which `name` is hung: `watch.hung_after`, and never
    less than three of its rounds."""
    return max(config.watch.hung_after, LATE_BEATS * round_every(config, name))


def is_hung(hb: Heartbeat, now: float, config: Config) -> bool:
    """Whether `hb` is older than its process's threshold."""
    return now - hb.ts > hung_after(config, hb.assistant.lower())


def process_runs(pid: int, *words: str) -> bool:
    """Whether `pid` is alive and its command line holds every one of `words` (no pid reuse)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    args = [a.decode(errors="replace") for a in argv]
    return all(any(w in a for a in args) for w in words)


def hung_event(hb: Heartbeat, now: float, *, by: str, session: str = "steward") -> Event:
    """`system.assistant_hung`: one event per hung process (its pid is in the fingerprint)."""
    age = now - hb.ts
    text = (f"{hb.assistant} (pid {hb.pid}) is hung: no heartbeat for {age:.0f}s;"
            " restarting it")
    return new_event(ts=now, session=session, target=hb.assistant, assistant=by, rule=HUNG_RULE,
                     severity=Severity.ERROR, kind=Kind.SYSTEM, text=text,
                     line=f"hung {hb.assistant} {hb.pid}", scope="watchdog")
