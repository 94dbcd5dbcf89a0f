"""Flapping episodes: when an assistant counts as flapping, when that is said, when to retry it.

Circus 0.19 respawns a process that dies every `check_delay` for ever, and its flapping plugin
did not stop a watcher here (measured: no detection in 27 s of `/bin/false` respawns; its casts
are refused while the arbiter is busy).  So the backoff is Steward's: RESTARTS new pids within
WINDOW seconds stop the watcher, which is started again after FIRST_RETRY seconds, twice as
long after each further try, at most MAX_RETRY.  A watcher Circus stopped by itself (its spawns
failed) waits the same backoff; it is never started again at once.  Each episode (trouble after
STEADY quiet seconds) is reported once, with its number, and every new episode again.
"""

from __future__ import annotations

import collections

import attrs

__all__ = ["FIRST_RETRY", "MAX_RETRY", "RESTARTS", "STEADY", "WINDOW", "Flapping", "Verdict"]

RESTARTS = 3
WINDOW = 60.0
FIRST_RETRY = 10.0
MAX_RETRY = 1800.0
STEADY = 120.0


@attrs.frozen(kw_only=True)
class Verdict:
    """What the reconciler does about one watcher this round."""

    report: str | None = None  # the text of a new episode's event
    episode: int = 0
    stop: bool = False  # stop it now: it keeps dying
    start: bool = False  # start it now: its backoff is over


@attrs.define
class _Watch:
    restarts: collections.deque[float] = attrs.field(factory=collections.deque)
    trouble_at: float | None = None  # last trouble of the current episode; None: steady
    episodes: int = 0
    retry_at: float | None = None  # while Steward holds it stopped: when to start it again
    tries: int = 0


class Flapping:
    """Per-watcher episodes, from new pids and from Circus's status, on the reconciler's clock."""

    def __init__(self) -> None:
        self._watch: dict[str, _Watch] = {}

    def episodes(self, name: str) -> int:
        return self._watch[name].episodes if name in self._watch else 0

    def backoff(self, name: str) -> float:
        tries = self._watch[name].tries if name in self._watch else 0
        return min(FIRST_RETRY * 2.0**tries, MAX_RETRY)

    def _trouble(self, name: str, w: _Watch, now: float, why: str) -> Verdict:
        new = w.trouble_at is None
        w.trouble_at = now
        if not new:
            return Verdict()
        w.episodes += 1
        return Verdict(report=f"assistant {name} {why} (flapping episode {w.episodes})",
                       episode=w.episodes)

    def _hold(self, name: str, w: _Watch, now: float, verdict: Verdict) -> Verdict:
        delay = self.backoff(name)
        w.retry_at = now + delay
        if verdict.report:
            verdict = attrs.evolve(verdict, report=f"{verdict.report}; it is stopped and tried"
                                                   f" again in {delay:.0f}s")
        return verdict

    def restarted(self, name: str, now: float) -> Verdict:
        """`name` runs with a new pid: Circus respawned it."""
        w = self._watch.setdefault(name, _Watch())
        w.restarts.append(now)
        while w.restarts and now - w.restarts[0] > WINDOW:
            w.restarts.popleft()
        if len(w.restarts) < RESTARTS or w.retry_at is not None:
            return Verdict()
        count = len(w.restarts)
        w.restarts.clear()
        said = self._trouble(name, w, now, f"died and was respawned {count} times in"
                                           f" {WINDOW:.0f}s")
        return attrs.evolve(self._hold(name, w, now, said), stop=True)

    def status(self, name: str, status: str, now: float) -> Verdict:
        """Circus's status of `name` this round."""
        w = self._watch.setdefault(name, _Watch())
        if status != "stopped":
            w.retry_at = None
            if w.trouble_at is not None and now - w.trouble_at > STEADY:
                w.trouble_at = None  # steady again: the episode is over
                w.tries = 0
            return Verdict()
        if w.retry_at is None:  # Circus stopped it (its spawns failed): wait, never at once
            said = self._trouble(name, w, now, "could not be started; Circus stopped it")
            return self._hold(name, w, now, said)
        if now >= w.retry_at:
            w.retry_at = None
            w.tries += 1
            w.trouble_at = now
            return Verdict(start=True)
        return Verdict()

    def forget(self, keep: set[str]) -> None:
        for name in set(self._watch) - keep:
            del self._watch[name]
