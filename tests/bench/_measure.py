"""What the benchmark measures of a set of processes: CPU over a window, memory, percentiles."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import psutil

__all__ = ["CpuWindow", "Memory", "memory", "percentiles"]

MIB = 1024 * 1024


def _snapshot(pids: Iterable[int], *, children: bool) -> dict[int, tuple[float, float, float]]:
    """pid -> (create time, own CPU seconds, reaped children's CPU seconds) for every live pid."""
    out = {}
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            t = proc.cpu_times()
            kids = float(t.children_user + t.children_system) if children else 0.0
            out[pid] = (proc.create_time(), float(t.user + t.system), kids)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return out


def _busy() -> float:
    """CPU seconds the whole machine has spent busy (all cores, all processes)."""
    t = psutil.cpu_times()
    return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))


@attrs.define
class CpuWindow:
    """CPU used by named groups of processes over one window, as % of one core.

    A group is a function returning its pids now; it is asked at the start, every `every`
    seconds and at the end, so processes started during the window are counted from birth.
    Children that exit are counted through the parent that reaps them (`children=True`).
    """

    groups: Mapping[str, Callable[[], Sequence[int]]]
    children: Mapping[str, bool]
    start: dict[str, dict[int, tuple[float, float, float]]] = attrs.field(factory=dict)
    seen: dict[str, dict[int, tuple[float, float, float]]] = attrs.field(factory=dict)
    t0: float = 0.0
    elapsed: float = 0.0
    machine0: float = 0.0
    machine_pct: float = 0.0

    def begin(self) -> None:
        self.t0 = time.monotonic()
        self.machine0 = _busy()
        for name, pids in self.groups.items():
            self.start[name] = _snapshot(pids(), children=self.children[name])
            self.seen[name] = dict(self.start[name])

    def sample(self) -> None:
        for name, pids in self.groups.items():
            self.seen[name].update(_snapshot(pids(), children=self.children[name]))

    def run(self, seconds: float, *, every: float = 2.0,
            tick: Callable[[], None] | None = None) -> dict[str, float]:
        """Wait out the window (calling `tick` about every 0.1 s); % of one core a group."""
        self.begin()
        end = self.t0 + seconds
        next_sample = self.t0 + every
        while (now := time.monotonic()) < end:
            if tick is not None:
                tick()
            if now >= next_sample:
                self.sample()
                next_sample += every
            time.sleep(min(0.1, max(0.0, end - time.monotonic())))
        return self.finish()

    def finish(self) -> dict[str, float]:
        self.sample()
        self.elapsed = time.monotonic() - self.t0
        self.machine_pct = 100.0 * (_busy() - self.machine0) / self.elapsed
        return {name: sum(own + kids for own, kids in self.by_pid(name).values())
                for name in self.groups}

    def by_pid(self, group: str) -> dict[int, tuple[float, float]]:
        """pid -> (own, reaped children's) CPU in the window, % of one core, for one group."""
        out = {}
        for pid, (created, own, kids) in self.seen[group].items():
            first = self.start[group].get(pid)
            base = first if first is not None and first[0] == created else (created, 0.0, 0.0)
            out[pid] = (100.0 * max(0.0, own - base[1]) / self.elapsed,
                        100.0 * max(0.0, kids - base[2]) / self.elapsed)
        return out


@attrs.frozen(kw_only=True)
class Memory:
    """Unique, proportional and resident memory of one process, in MiB."""

    uss: float
    pss: float
    rss: float


def memory(pids: Iterable[int]) -> dict[int, Memory]:
    """USS, PSS (shared pages split among their users) and RSS of every live pid."""
    out = {}
    for pid in pids:
        try:
            info = psutil.Process(pid).memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        out[pid] = Memory(uss=info.uss / MIB, pss=getattr(info, "pss", info.uss) / MIB,
                          rss=info.rss / MIB)
    return out


def percentiles(values: Sequence[float]) -> dict[str, Any]:
    """n, p50, p95, p99, mean and max (nearest-rank), or None figures when there are none."""
    if not values:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "mean": None, "max": None}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    return {
        "n": len(ordered),
        "p50": round(rank(50), 4),
        "p95": round(rank(95), 4),
        "p99": round(rank(99), 4),
        "mean": round(sum(ordered) / len(ordered), 4),
        "max": round(ordered[-1], 4),
    }
