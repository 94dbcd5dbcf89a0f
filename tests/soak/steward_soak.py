"""`make soak`: Steward on 20 sessions under churn, a flood, SIGKILLs, a SIGSTOP, a full disk and a
tmux server restart.

Markers (`Error: bench marker <uid>`) go at a steady pace into panes of sessions that are
neither churned nor flooded; at the end every one must be in exactly one event, one desktop
notification (the D-Bus mock) and one log line, those written after the tmux server was killed
and started again with the same sessions included.  Bounded by SOAK_SECONDS (default 600).

    SOAK_SECONDS=180 .venv/bin/python tests/soak/steward_soak.py
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(HERE), str(REPO / "tests" / "bench"), str(REPO / "tests")]

import _dbus  # noqa: E402  # tests/ is put on sys.path above
from _chaos import (  # noqa: E402  # tests/soak is put on sys.path above
    Churn,
    Flood,
    FullDisk,
    Killer,
    ServerRestart,
    Stopper,
    recreate_marked,
    session_assistants,
)
from _load import LoadServer, Writer  # noqa: E402  # tests/bench is put on sys.path above
from _measure import CpuWindow, memory  # noqa: E402  # tests/bench is put on sys.path above
from _steward import StewardRun  # noqa: E402  # tests/bench is put on sys.path above
from _tally import Heartbeats, Tally, rows  # noqa: E402  # tests/soak is put on sys.path above
from steward_bench import MarkerPace  # noqa: E402  # tests/bench is put on sys.path above

__all__ = ["main"]

# Steward's defaults except the bench's notify/policy overrides: every marker delivered alone.
SOAK_CONFIG = """\
[tmux]
socket_name = "{socket}"
[pm]
session = "pm"
[summary]
interval = 0
[notify]
rate_per_minute = 10000
[policy]
cooldown = 0.0
group_wait = 0.0
group_interval = 0.0
"""
MARKER_SESSIONS = 12  # two panes each, markers go here
CHURN_SESSIONS = 6  # + the flood session + Steward's PM session = 20 sessions
HUNG_RULE = "system.assistant_hung"
IDLE_SECONDS = 20.0


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


class Soak:
    """One soak run: the load, Steward, the chaos, and what is measured along the way."""

    def __init__(self, work: Path, seconds: float, seed: int) -> None:
        self.work = work
        self.seconds = seconds
        self.rng = random.Random(seed)
        tmux = shutil.which("tmux")
        if tmux is None:
            raise RuntimeError("tmux is not on PATH")
        self.load = LoadServer(work, f"stw-soak-{os.getpid()}", tmux)
        self.marked = [f"m{i:02d}" for i in range(MARKER_SESSIONS)]
        self.load.add_sessions(self.marked)
        now = time.monotonic()
        self.churn = Churn(self.load, prefix="c", size=CHURN_SESSIONS, count=2, every=20.0,
                           rng=self.rng, say=say)
        self.flood = Flood(self.load, session="flood", at=now + 0.1 * seconds, seconds=30.0,
                           say=say)
        self.writer = Writer(work, self.load.panes, seed=seed)
        self.bus = _dbus.NotificationBus(work)
        self.disk = FullDisk(work / "steward", size_mib=64, at=now + 0.55 * seconds,
                             seconds=20.0, say=say)
        self.steward: StewardRun | None = None
        self.killer = Killer(every=30.0, rng=self.rng, say=say)
        self.stopper = Stopper(session=self.marked[0], at=now + 0.05 * seconds, say=say)
        self.restart = ServerRestart(self.load, at=now + 0.75 * seconds, pm="pm", say=say)
        self.pace = MarkerPace(self.writer, "soak", 1.0)
        self.watchers: dict[str, list[int]] = {}
        self.heartbeats = Heartbeats(work / "steward" / "steward.db")
        self.peak: dict[str, dict[str, float]] = defaultdict(lambda: {"uss": 0.0, "pss": 0.0})
        self.hung_seen = ""
        self.idle: dict[str, float] = {}

    # -- Steward -------------------------------------------------------------------------
    def start(self) -> float:
        self.bus.start()
        if self.disk.skipped:
            say(self.disk.skipped)
        env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": self.bus.address}
        self.steward = StewardRun(self.work, socket_name=self.load.socket_name, interval=1.0,
                                  env=env)
        self.steward.config.write_text(SOAK_CONFIG.format(socket=self.load.socket_name))
        self.steward.up()
        names = [*self.marked, *self.churn.live, self.flood.session]
        return self.steward.wait_ready(names, 120.0)

    def run_steward(self) -> StewardRun:
        assert self.steward is not None
        return self.steward

    def refresh(self) -> None:
        """Ask circus for its watchers; sample the memory of every process by role."""
        steward = self.run_steward()
        self.watchers = steward.watcher_pids() or self.watchers
        roles = {}
        root = steward.circusd()
        if root is not None:
            roles[root.pid] = "circusd"
        for name, pids in self.watchers.items():
            role = "session assistant" if name.startswith("session:") else name
            roles.update(dict.fromkeys(pids, role))
        for pid in steward.pids(None):
            roles.setdefault(pid, "other")
        for pid, mem in memory(roles).items():
            peak = self.peak[roles[pid]]
            peak["uss"] = max(peak["uss"], mem.uss)
            peak["pss"] = max(peak["pss"], mem.pss)

    def assistants(self) -> dict[str, int]:
        self.watchers = self.run_steward().watcher_pids() or self.watchers
        return session_assistants(self.watchers, [*self.marked, *self.churn.live,
                                                  self.flood.session])

    def check_hung(self) -> None:
        if self.hung_seen or not self.stopper.pid:
            return
        db = self.run_steward().home / "steward.db"
        for r in rows(db, "SELECT ts, text FROM events WHERE rule = ?", (HUNG_RULE,)):
            if f"(pid {self.stopper.pid})" in r["text"]:
                self.hung_seen = r["text"]
                say(f"hung: Steward reported {r['text']!r}")

    # -- the run -------------------------------------------------------------------------
    def loop(self) -> None:
        t0 = time.monotonic()
        end = t0 + self.seconds
        next_refresh = next_poll = t0

        def quiet() -> None:
            nonlocal next_poll
            if time.monotonic() >= next_poll:
                next_poll = time.monotonic() + 2.0
                self.heartbeats.poll()
                self.check_hung()

        def light() -> None:
            self.pace()
            quiet()

        while (now := time.monotonic()) < end:
            if self.restart.due(now):
                self.restart_server(quiet)
                continue
            light()
            self.flood.tick(now)
            self.disk.tick(now)
            if not self.idle and self.flood.ended and now >= self.flood.ended + 5.0:
                self.measure_idle(light)
                continue
            self.churn.tick(now)
            self.stopper.tick(now, self.assistants)
            self.killer.tick(now, self.assistants, {self.stopper.pid} - {0})
            if now >= next_refresh:
                next_refresh = now + 10.0
                self.refresh()
            time.sleep(0.05)
        if not self.disk.done:
            self.disk.filler.unlink(missing_ok=True)
        say(f"window over; the stopped assistant: {self.stopper.release()}")

    def restart_server(self, tick: Callable[[], None]) -> None:
        """Kill the tmux server (markers paused), start it again with the same sessions, and
        wait until Steward recreated the PM session, reattached and captures every session."""
        restart, db = self.restart, self.run_steward().home / "steward.db"

        def wait(until: Callable[[], object], seconds: float) -> bool:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                tick()
                if until():
                    return True
                time.sleep(0.5)
            return False

        wait(lambda: time.monotonic() >= restart.at, restart.QUIET + 1)
        before = {r["assistant"]: r["pid"] for r in rows(db, "SELECT * FROM heartbeats")}
        restart.kill()
        if not wait(lambda: rows(db, "SELECT 1 FROM events WHERE rule = ?",
                                 ("system.tmux_server_gone",)), 30.0):
            say("tmux: Steward did not report the server gone within 30 s")
        recreate_marked(self.load, self.marked)
        self.churn.recreate()
        self.flood.recreate()
        names = [f"session:{n}" for n in (*self.marked, *self.churn.live, self.flood.session)]

        def back() -> bool:
            pm, clients = restart.pm_back()
            hb = {r["assistant"]: r for r in rows(db, "SELECT * FROM heartbeats")}
            return pm and clients > 0 and all(
                n in hb and hb[n]["pid"] != before.get(n) and hb[n]["captures"] > 0
                for n in names)

        restart.finish(wait(back, restart.DEADLINE), restart.pm_back()[1])
        restart.back_wall = time.time()
        now = time.monotonic()
        self.pace.next = now + 1.0
        self.churn.next = max(self.churn.next, now)
        self.killer.next = max(self.killer.next, now)
        self.refresh()

    def measure_idle(self, tick: Callable[[], None]) -> None:
        """CPU of the escalation daemon and of all of Steward over IDLE_SECONDS, chaos paused."""
        steward = self.run_steward()
        self.watchers = steward.watcher_pids() or self.watchers
        daemon = list(self.watchers.get("escalation", []))
        say(f"idle: measuring CPU for {IDLE_SECONDS:.0f} s after the flood (chaos paused)")
        cpu = CpuWindow(groups={"daemon": lambda: daemon,
                                "steward": lambda: steward.pids(None)},
                        children={"daemon": True, "steward": True})
        self.idle = cpu.run(IDLE_SECONDS, tick=tick)
        self.idle["machine"] = cpu.machine_pct
        # The chaos clocks skip what fell inside the window.
        now = time.monotonic()
        self.churn.next = max(self.churn.next, now)
        self.killer.next = max(self.killer.next, now)

    def drain(self, tally: Tally, seconds: float) -> None:
        """Wait until every marker is caught once everywhere, or `seconds` have passed."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.heartbeats.poll()
            uids = set(self.writer.markers())
            if not tally.wrong(tally.count(uids), uids):
                return
            time.sleep(3.0)

    def stop(self) -> None:
        if self.stopper.pid:
            self.stopper.release()
        if self.steward is not None:
            self.steward.down()
        self.writer.stop()
        self.bus.stop()
        self.load.kill()
        self.disk.unmount()


def report(soak: Soak, tally: Tally) -> int:
    """Print the figures; 0 when every marker was caught exactly once on every channel."""
    written = soak.writer.markers()
    uids = set(written)
    counts = tally.count(uids)
    wrong = tally.wrong(counts, uids)
    print("\n== soak ==")
    print(f"markers written / marker events / deliveries (desktop, log): {len(written)} / "
          f"{sum(counts['events'].values())} / {sum(counts['desktop'].values())}, "
          f"{sum(counts['log'].values())}")
    restarts = soak.heartbeats.changes
    print(f"restarts (heartbeat pid changes): {sum(restarts.values())}"
          + (f" ({', '.join(f'{n} x{c}' for n, c in sorted(restarts.items()))})"
             if restarts else ""))
    print(f"SIGKILLs: {len(soak.killer.kills)}; churned sessions: {soak.churn.killed}")
    print(f"SIGSTOP of {soak.stopper.session} (pid {soak.stopper.pid}): "
          + (f"reported: {soak.hung_seen}" if soak.hung_seen else f"NOT reported as {HUNG_RULE}"))
    print("full disk: " + (soak.disk.skipped or ("done" if soak.disk.done else "not reached")))
    restart = soak.restart
    print(f"tmux server restart: {restart.result}")
    if restart.back_wall:
        after = [u for u, m in written.items() if m.t_write >= restart.back_wall]
        print(f"markers written after the restart / caught once everywhere: {len(after)} / "
              f"{sum(u not in wrong for u in after)}")
    print("peak memory by role (MiB, the largest process of the role):")
    for role, peak in sorted(soak.peak.items()):
        print(f"  {role:<18} USS {peak['uss']:6.1f}  PSS {peak['pss']:6.1f}")
    if soak.idle:
        print(f"idle CPU over {IDLE_SECONDS:.0f} s after the flood (% of one core): "
              f"escalation daemon {soak.idle['daemon']:.1f}, all of Steward "
              f"{soak.idle['steward']:.1f}, machine {soak.idle['machine']:.1f}")
    else:
        print("idle CPU: not measured (window too short)")
    for uid, seen in sorted(wrong.items(), key=lambda kv: written[kv[0]].t_write):
        m = written[uid]
        at = time.strftime("%H:%M:%S", time.localtime(m.t_write))
        print(f"MISSING or DOUBLE: {uid} in {m.pane} at {at}: "
              + ", ".join(f"{ch} {n}" for ch, n in seen.items()))
    ok = bool(written) and not wrong and restart.back_after is not None
    print("PASS: every marker caught once" if ok else f"FAIL: {len(wrong)} markers not caught once")
    return 0 if ok else 1


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float,
                        default=float(os.environ.get("SOAK_SECONDS", "600")))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _sigterm)
    work = Path(tempfile.mkdtemp(prefix="stw-soak-"))
    soak: Soak | None = None
    rc = 1
    try:
        soak = Soak(work, args.seconds, args.seed)
        say(f"soak: {args.seconds:.0f} s on 20 sessions; work files in {work}")
        say(f"steward ready in {soak.start():.1f} s")
        soak.loop()
        home = soak.run_steward().home
        tally = Tally(db=home / "steward.db", log=home / "log" / "steward.log",
                      notify_log=work / "notification-server.log")
        soak.drain(tally, max(60.0, 0.1 * args.seconds))
        rc = report(soak, tally)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    finally:
        if soak is not None:
            soak.stop()
        if args.keep or rc != 0:
            print(f"work files kept in {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
