"""`make bench`: Steward against the simple way (capture-pane | grep loops) at N sessions.

For each N, on one private tmux server of N busy sessions (two panes each), Steward runs first
(a cost window, then a latency window that also polls the PM pane), then the baseline on the
same sessions.  Then, once, the escalation daemon's idle CPU with an empty store and with
200 k events, 5 k of them open errors (tests/bench/_daemon_idle.py).  Figures go to
bench-results/bench.json and bench-results/bench.png.

    .venv/bin/python tests/bench/steward_bench.py            # N = 1, 10, 50, 100
    .venv/bin/python tests/bench/steward_bench.py --quick    # N = 1, 10
    .venv/bin/python tests/bench/steward_bench.py --n 50
    .venv/bin/python tests/bench/steward_bench.py --daemon-idle-only   # about a minute
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(HERE), str(REPO / "tests")]

import _chart  # noqa: E402  # tests/bench is put on sys.path above
import _daemon_idle  # noqa: E402  # tests/bench is put on sys.path above
import _dbus  # noqa: E402  # tests/ is put on sys.path above
import _report  # noqa: E402  # tests/bench is put on sys.path above
from _baseline import Baseline  # noqa: E402  # tests/bench is put on sys.path above
from _load import LoadServer, TmuxCounter, Writer  # noqa: E402  # tests/bench on sys.path
from _measure import CpuWindow, memory  # noqa: E402  # tests/bench is put on sys.path above
from _steward import StewardRun, notify_log  # noqa: E402  # tests/bench is put on sys.path above

__all__ = ["main"]

DEFAULT_NS = (1, 10, 50, 100)
QUICK_NS = (1, 10)
LATENCY_PHASE = "steward-latency"


class Plan:
    """Window lengths and marker pace for one N."""

    def __init__(self, n: int, args: argparse.Namespace) -> None:
        short = n >= 100
        self.n = n
        self.interval: float = args.interval
        self.cost_window: float = args.window * (0.75 if short else 1.0)
        self.latency_window: float = args.latency_window * (0.67 if short else 1.0)
        self.marker_every: float = args.marker_every
        self.ready_timeout = 60.0 + 2.0 * n
        self.drain = 4.0 * args.interval + 4.0


class MarkerPace:
    """Calls for a marker every `every` seconds on average, panes in a shuffled round robin.

    The gaps are drawn from [0.5, 1.5] x `every`, so that writes fall at every phase of the
    capture interval rather than at one fixed offset from it.
    """

    def __init__(self, writer: Writer, phase: str, every: float) -> None:
        self.writer = writer
        self.phase = phase
        self.every = every
        self.next = time.monotonic() + every / 2
        self.order: list[int] = []

    def __call__(self) -> None:
        if time.monotonic() < self.next:
            return
        if not self.order:
            self.order = list(range(len(self.writer.panes)))
            self.writer.rng.shuffle(self.order)
        self.writer.marker(self.phase, self.order.pop())
        self.next += self.every * self.writer.rng.uniform(0.5, 1.5)


class PmWatch:
    """Polls the PM pane for markers not seen there yet; first wall time each appeared."""

    def __init__(self, load: LoadServer, writer: Writer, session: str) -> None:
        self.load = load
        self.writer = writer
        self.target = f"={session}:"
        self.seen: dict[str, float] = {}
        self.last = 0.0

    def __call__(self) -> None:
        now = time.monotonic()
        if now - self.last < 0.1:
            return
        self.last = now
        pending = [u for u, (_, phase) in self.writer.sent.items()
                   if phase == LATENCY_PHASE and u not in self.seen]
        if not pending:
            return
        text = self.load.tmux("capture-pane", "-p", "-J", "-S", "-100", "-t", self.target,
                              check=False)
        t = time.time()
        for uid in pending:
            if uid in text:
                self.seen[uid] = t


def _both(*ticks: Callable[[], None]) -> Callable[[], None]:
    def tick() -> None:
        for t in ticks:
            t()
    return tick


def _wait(seconds: float, tick: Callable[[], None]) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        tick()
        time.sleep(0.05)


def _root(steward: StewardRun) -> int:
    proc = steward.circusd()
    return -1 if proc is None else proc.pid


def run_steward(plan: Plan, work: Path, load: LoadServer, counter: TmuxCounter,
                writer: Writer, bus: _dbus.NotificationBus, names: Sequence[str],
                tmux_pid: int) -> dict[str, Any]:
    """Steward's phase of one N: cost window, latency window, then the figures."""
    env = counter.env({**os.environ, "DBUS_SESSION_BUS_ADDRESS": bus.address})
    steward = StewardRun(work, socket_name=load.socket_name, interval=plan.interval, env=env)
    try:
        t0 = time.monotonic()
        steward.up()
        ready = steward.wait_ready(names, plan.ready_timeout)
        print(f"  steward ready in {time.monotonic() - t0:.1f} s", flush=True)
        time.sleep(3.0)
        pm_pid = int(load.tmux("display-message", "-p", "-t", "=pm:", "#{pane_pid}").strip())
        watchers = steward.watcher_pids()
        bus.clear()

        def pids() -> list[int]:
            return steward.pids(pm_pid)

        before = counter.count()
        t_cost = time.monotonic()
        cpu = CpuWindow(groups={"steward": pids, "tmux": lambda: [tmux_pid]},
                        children={"steward": True, "tmux": False})
        cost = cpu.run(plan.cost_window, tick=MarkerPace(writer, "steward-cost", plan.marker_every))
        runs = (counter.count() - before) / (time.monotonic() - t_cost)
        mem = memory(pids())
        mem_tmux = memory([tmux_pid])

        pm = PmWatch(load, writer, "pm")
        _wait(plan.latency_window,
              _both(MarkerPace(writer, LATENCY_PHASE, plan.marker_every), pm))
        deadline = time.monotonic() + plan.drain
        while time.monotonic() < deadline:
            pm()
            time.sleep(0.05)
        markers = {u: m for u, m in writer.markers().items() if m.phase.startswith("steward")}
        events = steward.events()
        calls = notify_log(work / "notification-server.log")
        mock_calls = len(bus.calls())
        deliveries = steward.deliveries()
        return _report.steward_figures(
            plan_n=plan.n, ready_seconds=ready, cpu=cost, window=plan.cost_window,
            tmux_runs_per_s=runs, memory=mem, tmux_memory=mem_tmux, watchers=watchers,
            markers=markers, events=events, calls=calls, pm_seen=pm.seen,
            deliveries=deliveries, mock_calls=mock_calls,
            cpu_by_pid=cpu.by_pid("steward"), machine_cpu=cpu.machine_pct,
            roots={"circusd": _root(steward), "pm tail": pm_pid},
        )
    finally:
        steward.down()


def run_baseline(plan: Plan, work: Path, load: LoadServer, counter: TmuxCounter,
                 writer: Writer, tmux_pid: int) -> dict[str, Any]:
    """The baseline's phase of one N, on the same sessions."""
    env = counter.env({**os.environ, "LC_NUMERIC": "C"})
    base = Baseline(work, load.socket_name, plan.interval, env)
    sessions: dict[str, list[str]] = {}
    for p in load.panes:
        sessions.setdefault(p.session, []).append(p.pane_id)
    try:
        base.start(sessions)
        time.sleep(2.0 * plan.interval + 1.0)
        loops = list(base.pids)
        before = counter.count()
        t_cost = time.monotonic()
        cpu = CpuWindow(groups={"baseline": lambda: loops, "tmux": lambda: [tmux_pid]},
                        children={"baseline": True, "tmux": False})
        cost = cpu.run(plan.cost_window, tick=MarkerPace(writer, "baseline-cost",
                                                         plan.marker_every))
        runs = (counter.count() - before) / (time.monotonic() - t_cost)
        mem = memory(loops)
        mem_tmux = memory([tmux_pid])
        _wait(plan.latency_window, MarkerPace(writer, "baseline-latency", plan.marker_every))
        time.sleep(2.0 * plan.interval + 1.0)
        markers = {u: m for u, m in writer.markers().items() if m.phase.startswith("baseline")}
        return _report.baseline_figures(
            cpu=cost, tmux_runs_per_s=runs, memory=mem, tmux_memory=mem_tmux,
            markers=markers, notifications=base.notifications(), loops=len(loops),
            machine_cpu=cpu.machine_pct,
        )
    finally:
        base.stop()


def bench_one(n: int, args: argparse.Namespace, overhead: dict[str, float]) -> dict[str, Any]:
    """Both phases at N sessions; every figure of that N."""
    plan = Plan(n, args)
    work = Path(tempfile.mkdtemp(prefix=f"stw-bench-{n}-"))
    counter = TmuxCounter(work)
    if "per_run" not in overhead:
        overhead["per_run"] = counter.overhead()
        overhead["kind"] = 1.0 if counter.kind == "c" else 0.0
    load = LoadServer(work, f"stw-bench-{os.getpid()}-{n}", counter.real)
    bus = _dbus.NotificationBus(work)
    writer: Writer | None = None
    names = [f"b{i:03d}" for i in range(n)]
    done = False
    try:
        t0 = time.monotonic()
        load.add_sessions(names)
        tmux_pid = load.server_pid()
        writer = Writer(work, load.panes)
        bus.start()
        print(f"N={n}: {len(load.panes)} panes up in {time.monotonic() - t0:.1f} s", flush=True)
        time.sleep(2.0)
        idle = CpuWindow(groups={"tmux": lambda: [tmux_pid]}, children={"tmux": False})
        load_only = idle.run(min(10.0, plan.cost_window / 2))["tmux"]
        steward = run_steward(plan, work, load, counter, writer, bus, names, tmux_pid)
        # Steward must never take the user's tmux server down (it crashed at N = 100 once).
        survived = steward["tmux_server_survived"] = _same_server(load, tmux_pid)
        print(f"  steward done (tmux server {'still up' if survived else 'GONE'});"
              f" baseline ({n} loops)", flush=True)
        baseline = run_baseline(plan, work, load, counter, writer, tmux_pid)
        done = True
        return _report.one_n(plan=vars(plan), steward=steward, baseline=baseline,
                             wrapper_cpu_per_run=overhead["per_run"], tmux_load_only=load_only)
    finally:
        if writer is not None:
            writer.stop()
        bus.stop()
        load.kill()
        if args.keep or not done:
            print(f"  work files kept in {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)


def _same_server(load: LoadServer, pid: int) -> bool:
    """Whether the load's tmux server is still the one that started the run."""
    try:
        return load.server_pid() == pid
    except Exception:  # no server answers: it died
        return False


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def daemon_idle_only(args: argparse.Namespace) -> int:
    """`--daemon-idle-only`: the daemon's idle CPU alone, to bench-results/daemon_idle.json."""
    idle = _daemon_idle.measure(window=args.window, keep=args.keep)
    target = _report.daemon_idle_target(idle)
    print(_daemon_idle.summary(idle))
    detail = ", ".join(f"{k}={v}" for k, v in target.items() if k != "verdict")
    print(f"  {target['verdict']:<7} daemon_idle_cpu_pct: {detail}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "daemon_idle.json"
    path.write_text(json.dumps({**idle, "target": target}, indent=2) + "\n")
    print(f"\nJSON:  {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="N = 1 and 10 only")
    parser.add_argument("--n", type=int, action="append", help="N sessions (repeatable)")
    parser.add_argument("--interval", type=float, default=1.0, help="capture interval, s")
    parser.add_argument("--window", type=float, default=20.0, help="CPU window, s")
    parser.add_argument("--latency-window", type=float, default=30.0, help="s of markers")
    parser.add_argument("--marker-every", type=float, default=1.0, help="s between markers")
    parser.add_argument("--out", type=Path, default=REPO / "bench-results")
    parser.add_argument("--keep", action="store_true", help="keep the work dirs")
    parser.add_argument("--daemon-idle-only", action="store_true",
                        help="only the escalation daemon's idle CPU, empty and big store")
    parser.add_argument("--no-daemon-idle", action="store_true",
                        help="leave out the escalation daemon's idle CPU")
    args = parser.parse_args(argv)
    if args.daemon_idle_only:
        return daemon_idle_only(args)
    ns = tuple(args.n) if args.n else QUICK_NS if args.quick else DEFAULT_NS
    signal.signal(signal.SIGTERM, _sigterm)
    overhead: dict[str, float] = {}
    result: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "settings": {"interval": args.interval, "cost_window": args.window,
                     "latency_window": args.latency_window, "marker_every": args.marker_every,
                     "steward_config": _report.CONFIG_NOTE},
        "runs": [],
    }
    t0 = time.monotonic()
    result["failures"] = []
    try:
        for n in ns:
            try:
                result["runs"].append(bench_one(n, args, overhead))
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                print(f"N={n} failed: {exc}", file=sys.stderr, flush=True)
                result["failures"].append({"n": n, "error": f"{type(exc).__name__}: {exc}"})
        if not args.no_daemon_idle:
            print("escalation daemon idle: empty store, then 200 k events", flush=True)
            try:
                result["daemon_idle"] = _daemon_idle.measure(keep=args.keep)
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                print(f"daemon idle failed: {exc}", file=sys.stderr, flush=True)
                result["failures"].append({"n": "daemon idle",
                                           "error": f"{type(exc).__name__}: {exc}"})
    except KeyboardInterrupt:
        print("interrupted; writing what was measured", file=sys.stderr)
    result["wrapper_cpu_ms_per_tmux_run"] = round(1000 * overhead.get("per_run", 0.0), 3)
    result["wrapper"] = "c" if overhead.get("kind") else "sh"
    result["targets_n50"] = _report.targets(result["runs"], result.get("daemon_idle"))
    result["seconds"] = round(time.monotonic() - t0, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / "bench.json"
    png_path = args.out / "bench.png"
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    with contextlib.suppress(ValueError):
        _chart.draw(result["runs"], png_path)
    print(_report.table(result))
    for failed in result["failures"]:
        print(f"N={failed['n']} FAILED: {failed['error']}")
    print(f"\nJSON:  {json_path}\nChart: {png_path}")
    return 0 if result["runs"] and not result["failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
