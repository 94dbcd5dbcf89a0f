"""The escalation daemon at rest: its CPU with an empty store, and with a big one.

The big store is built with the real `Store` (real SQLite, the real schema) in a private
STEWARD_HOME and decided by the real `Policy`, as the daemon would have decided it: events
are stored, offered to the policy in time order (its `tick` runs between them, the PM's
acknowledgements arrive through it), every notice it gives is recorded as a claimed and
delivered delivery, and the decisions are recorded with `decide_many`.  What is left open
is `open_errors` unacknowledged errors of the last 20 minutes (distinct fingerprints,
spread over sessions), inside the window the daemon restores at start: so the fresh daemon
holds all of them on its ladder, as one that had run for days would.  The rest are two
weeks of info, warnings and errors that the PM acknowledged and waits that were resolved.

Then the daemon runs as circus runs it (`python -m escalation --config FILE`, the
desktop off, pm.mode log, a private tmux server with the PM session), settles, and its
CPU (own + reaped children) is read over a window.

    .venv/bin/python tests/bench/_daemon_idle.py                 # 200 k events, 5 k open
    .venv/bin/python tests/bench/_daemon_idle.py --events 20000 --window 10
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import _report  # noqa: E402  # tests/bench is put on sys.path above
from _measure import CpuWindow  # noqa: E402  # tests/bench is put on sys.path above

from escalation.core.config import Config, load_config  # noqa: E402
from escalation.core.events import Event, Kind, Severity, Status  # noqa: E402
from escalation.core.notice import Notice  # noqa: E402
from escalation.core.store import Store  # noqa: E402
from escalation.policy import Policy  # noqa: E402

__all__ = ["DAEMON_CONFIG", "TARGET_PCT", "build_store", "main", "measure", "run_daemon"]

TARGET_PCT = 1.0
EVENTS = 200_000
OPEN_ERRORS = 5_000
SESSIONS = 50
WINDOW = 20.0
SETTLE = 5.0
DAY = 86400.0
HISTORY = 14 * DAY - 3600.0  # inside [store] keep_days: upkeep would keep all of it
RECENT = 1200.0  # the open errors' span, inside the daemon's restore window (30 min)
TICK = 5.0  # simulated seconds between two policy ticks

# The daemon as `steward up` runs it, at the defaults, but: no desktop (no bus), pm.mode log.
DAEMON_CONFIG = """\
[tmux]
socket_name = "{socket}"
[pm]
session = "pm"
mode = "log"
[notify]
desktop = false
[summary]
interval = 0
"""

_DELIVERY_SQL = (
    "INSERT OR IGNORE INTO deliveries (key, channel, severity, title, body, target, session,"
    " rule, event_ids, ts, ok) VALUES (?,?,?,?,?,?,?,?,?,?,1)"
)


def _fp(*parts: str) -> str:
    return hashlib.sha1("\0".join(parts).encode()).hexdigest()[:16]


def _event(ts: float, session: str, pane: int, rule: str, severity: Severity, kind: Kind,
           text: str, fp_text: str) -> Event:
    target = f"{session}:0.{pane % 2}"
    return Event(ts=ts, session=session, window="@1", pane=f"%{pane}", target=target,
                 assistant=f"session:{session}", rule=rule, severity=severity, kind=kind,
                 text=text, fingerprint=_fp(target, fp_text))


def _history(rng: random.Random, n: int, start: float, end: float) -> list[Event]:
    """Two weeks of what session assistants report, oldest first."""
    out = []
    step = (end - start) / max(1, n)
    for i in range(n):
        ts = start + i * step + rng.uniform(0.0, step)
        s = rng.randrange(SESSIONS)
        session = f"s{s:02d}"
        pane = 2 * s + rng.randrange(2)
        r = rng.random()
        if r < 0.45:
            rule = "state.active" if rng.random() < 0.7 else "state.stalled"
            sev = Severity.INFO if rule == "state.active" else Severity.WARNING
            out.append(_event(ts, session, pane, rule, sev, Kind.STATE,
                              f"pane {rule.split('.')[1]}", rule))
        elif r < 0.47:
            out.append(_event(ts, session, pane, "state.waiting_input", Severity.WARNING,
                              Kind.STATE, "Do you want to proceed? [y/N]", "waiting"))
        elif r < 0.72:
            k = rng.randrange(40)
            out.append(_event(ts, session, pane, "generic.progress", Severity.INFO,
                              Kind.PATTERN, f"step {k} of 40 done in <dur>", f"progress {k}"))
        elif r < 0.87:
            k = rng.randrange(60)
            out.append(_event(ts, session, pane, "generic.warning", Severity.WARNING,
                              Kind.PATTERN, f"DeprecationWarning: call {k} is deprecated",
                              f"warning {k}"))
        else:
            k = rng.randrange(200)
            out.append(_event(ts, session, pane, "generic.python_traceback", Severity.ERROR,
                              Kind.PATTERN, f"ValueError: bad input in handler_{k}",
                              f"error {k}"))
    return out


def _open_errors(rng: random.Random, n: int, start: float, end: float) -> list[Event]:
    """`n` errors of distinct fingerprints over the sessions, oldest first, never answered."""
    out = []
    step = (end - start) / max(1, n)
    for i in range(n):
        s = i % SESSIONS
        pane = 2 * s + rng.randrange(2)
        out.append(_event(start + i * step, f"s{s:02d}", pane, "generic.python_traceback",
                          Severity.ERROR, Kind.PATTERN,
                          f"KeyError: 'field_{i}' in worker <n>", f"open error {i}"))
    return out


def _row(n: Notice) -> tuple[object, ...]:
    return (n.key, n.channel.value, int(n.severity), n.title, n.body, n.target, n.session,
            n.rule, json.dumps(list(n.event_ids)), n.ts)


def build_store(db: Path, config: Config, *, events: int, open_errors: int, now: float,
                seed: int = 14) -> dict[str, Any]:
    """The store as the daemon leaves it: `events` decided, `open_errors` of them still open."""
    t0 = time.monotonic()
    rng = random.Random(seed)
    history = _history(rng, events - open_errors, now - HISTORY, now - RECENT - 300.0)
    fresh = _open_errors(rng, open_errors, now - RECENT, now - 60.0)
    open_set = len(history)
    policy = Policy(policy=config.policy, notify=config.notify, pm=config.pm)
    notices: list[Notice] = []
    decided: list[tuple[int, Status, tuple[int, ...]]] = []
    acks: list[tuple[float, int]] = []
    acked: list[int] = []
    with Store(db) as store:
        stored = store.add_events([*history, *fresh])
        last_tick = -1e18

        def tick(at: float, ids: Sequence[int] = ()) -> None:
            nonlocal last_tick
            notices.extend(policy.tick(at, acked=ids))
            last_tick = at

        for i, event in enumerate(stored):
            assert event.id is not None
            due: list[int] = []
            while acks and acks[0][0] <= event.ts:
                at, eid = heapq.heappop(acks)
                due.append(eid)
            if due:
                acked += due
                tick(at, due)
            elif event.ts - last_tick >= TICK:
                tick(event.ts)
            decision = policy.offer(event, event.ts)
            notices.extend(decision.notices)
            decided.append((event.id, decision.status, decision.resolved))
            if (i < open_set and decision.status is Status.DELIVERED
                    and event.severity >= Severity.WARNING):
                # The PM answers what reached it, a minute to half an hour later.
                heapq.heappush(acks, (event.ts + rng.uniform(60.0, 1800.0), event.id))
        late = [eid for _at, eid in acks]  # answered between the history and the open errors
        acked += late
        tick(now, late)
        built = time.monotonic() - t0
        store.decide_many(decided)
        with store._tx() as conn:  # claim_delivery + mark_delivered(ok) for every notice
            conn.executemany(_DELIVERY_SQL, [_row(n) for n in notices])
        for k in range(0, len(acked), 5000):
            store.ack(ids=acked[k:k + 5000])
        store.forget_acks(store.ack_cursor())  # what upkeep does with acks the daemon read
        counts = store.counts()
        open_now = store.open_escalations()
    conn = sqlite3.connect(db)
    try:
        deliveries = int(conn.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0])
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return {"events": len(stored), "open_errors": open_now, "by_status": counts,
            "deliveries": deliveries, "db_mib": round(db.stat().st_size / 2**20, 1),
            "policy_seconds": round(built, 1),
            "build_seconds": round(time.monotonic() - t0, 1)}


def _tmux(socket: str, *args: str) -> None:
    subprocess.run(["tmux", "-L", socket, "-f", "/dev/null", *args], check=False,
                   capture_output=True, timeout=10)


def _beats(db: Path, since: float) -> int:
    """The daemon's cycles in its last heartbeat, if it beat after `since` (else -1)."""
    if not db.exists():
        return -1
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        row = conn.execute("SELECT ts, ticks FROM heartbeats WHERE assistant = 'escalation'"
                           ).fetchone()
    except sqlite3.Error:
        return -1
    finally:
        conn.close()
    return int(row[1]) if row is not None and row[0] >= since else -1


def _runtime_ns(pid: int) -> int | None:
    """Nanoseconds `pid` has run on a CPU (/proc schedstat), or None where there is none."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def run_daemon(home: Path, config_file: Path, *, window: float, settle: float,
               env: Mapping[str, str], profile: Path | None = None) -> dict[str, Any]:
    """Start the daemon as circus does, let it settle, read its CPU over `window` seconds."""
    log = (home / "daemon.out").open("ab")
    cmd = [sys.executable, "-m", "escalation", "--config", str(config_file)]
    if profile is not None:
        cmd[1:1] = ["-m", "cProfile", "-o", str(profile)]
    t0 = time.time()
    proc = subprocess.Popen(cmd, cwd=REPO, env={**env, "STEWARD_HOME": str(home)},
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            start_new_session=True)
    log.close()
    try:
        deadline = time.monotonic() + 60.0
        while _beats(home / "steward.db", t0) < 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the escalation daemon did not beat; see {home}/daemon.out")
            time.sleep(0.2)
        ready = time.time() - t0
        time.sleep(settle)
        cpu = CpuWindow(groups={"daemon": lambda: [proc.pid]}, children={"daemon": True})
        ns0 = _runtime_ns(proc.pid)
        ticks = cpu.run(window)["daemon"]
        ns1 = _runtime_ns(proc.pid)
        own, kids = cpu.by_pid("daemon").get(proc.pid, (0.0, 0.0))
        # psutil counts in clock ticks (0.05 % of a core over 20 s); the scheduler's own
        # count is in nanoseconds: it is the daemon's own CPU where there is one.
        if ns0 is not None and ns1 is not None:
            own = 100.0 * (ns1 - ns0) / 1e9 / cpu.elapsed
        pct = own + kids
        cycles = _beats(home / "steward.db", t0)
        return {"cpu_pct": round(pct, 3), "own_pct": round(own, 3),
                "children_pct": round(kids, 3), "cpu_pct_ticks": round(ticks, 3),
                "ready_seconds": round(ready, 1),
                "window_s": round(cpu.elapsed, 1), "machine_cpu_pct": round(cpu.machine_pct, 1),
                "cycles_at_last_beat": cycles}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def measure(*, events: int = EVENTS, open_errors: int = OPEN_ERRORS, window: float = WINDOW,
            settle: float = SETTLE, keep: bool = False, profile: bool = False) -> dict[str, Any]:
    """The daemon's idle CPU with an empty store and with the big one; figures and verdict."""
    work = Path(tempfile.mkdtemp(prefix="stw-idle-"))
    socket = f"stw-idle-{os.getpid()}"
    config_file = work / "steward.toml"
    config_file.write_text(DAEMON_CONFIG.format(socket=socket))
    config = load_config(config_file)
    env = {k: v for k, v in os.environ.items()
           if k not in ("TMUX", "DBUS_SESSION_BUS_ADDRESS", "STEWARD_CONFIG")}
    _tmux(socket, "new-session", "-d", "-s", "pm", "-x", "120", "-y", "30")
    done = False
    try:
        empty_home = work / "empty"
        empty_home.mkdir()
        empty = run_daemon(empty_home, config_file, window=window, settle=settle, env=env,
                           profile=work / "empty.prof" if profile else None)
        print(f"  daemon idle, empty store: {empty['cpu_pct']:.2f} % of a core", flush=True)
        full_home = work / "full"
        full_home.mkdir()
        store = build_store(full_home / "steward.db", config, events=events,
                            open_errors=open_errors, now=time.time())
        print(f"  store built in {store['build_seconds']} s: {store['events']} events, "
              f"{store['open_errors']} open, {store['deliveries']} deliveries, "
              f"{store['db_mib']} MiB", flush=True)
        full = run_daemon(full_home, config_file, window=window, settle=settle, env=env,
                          profile=work / "full.prof" if profile else None)
        print(f"  daemon idle, {store['events']} events / {store['open_errors']} open: "
              f"{full['cpu_pct']:.2f} % of a core", flush=True)
        done = True
    finally:
        _tmux(socket, "kill-server")
        if keep or profile or not done:
            print(f"  work files kept in {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    ratio = round(full["cpu_pct"] / empty["cpu_pct"], 2) if empty["cpu_pct"] > 0 else None
    return {"window_s": window, "settle_s": settle,
            "config": "defaults except: notify.desktop=false, pm.mode=log, summary.interval=0",
            "store": store, "empty": empty,
            "full": full, "ratio": ratio, "target_pct": TARGET_PCT,
            "met": full["cpu_pct"] <= TARGET_PCT}


def summary(idle: Mapping[str, Any]) -> str:
    """The printed lines."""
    st = idle["store"]
    return (f"Escalation daemon idle CPU over {idle['window_s']:.0f} s (% of a core, own +"
            f" children): empty store {idle['empty']['cpu_pct']:.2f}; {st['events']} events,"
            f" {st['open_errors']} open errors {idle['full']['cpu_pct']:.2f};"
            f" ratio {idle['ratio']}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=EVENTS)
    parser.add_argument("--open-errors", type=int, default=OPEN_ERRORS)
    parser.add_argument("--window", type=float, default=WINDOW, help="CPU window, s")
    parser.add_argument("--settle", type=float, default=SETTLE, help="s before the window")
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    parser.add_argument("--profile", action="store_true",
                        help="run the daemons under cProfile (kept in the work dir)")
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    idle = measure(events=args.events, open_errors=args.open_errors, window=args.window,
                   settle=args.settle, keep=args.keep, profile=args.profile)
    target = _report.daemon_idle_target(idle)
    print(summary(idle))
    detail = ", ".join(f"{k}={v}" for k, v in target.items() if k != "verdict")
    print(f"  {target['verdict']:<7} daemon_idle_cpu_pct: {detail}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(idle, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
