"""Steward as the benchmark runs it: its config, up and down, its processes and its events."""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil

__all__ = ["BENCH_CONFIG", "StewardRun", "notify_log"]

REPO = Path(__file__).resolve().parents[2]

# Defaults except where the latency run needs every marker delivered on its own at once.
BENCH_CONFIG = """\
[tmux]
socket_name = "{socket}"
[capture]
interval = {interval}
[watch]
discovery_interval = 2.0
[pm]
session = "pm"
[summary]
interval = 0
[notify]
rate_per_minute = 10000
[policy]
# Markers in one pane share a fingerprint (their uuids are masked): no cooldown, no grouping.
cooldown = 0.0
group_wait = 0.0
group_interval = 0.0
"""


class StewardRun:
    """`python -m supervisor` against a private state dir, config, tmux server and bus."""

    def __init__(self, workdir: Path, *, socket_name: str, interval: float,
                 env: Mapping[str, str]) -> None:
        self.home = workdir / "steward"
        self.config = workdir / "steward.toml"
        self.config.write_text(BENCH_CONFIG.format(socket=socket_name, interval=interval))
        self.env = {**env, "STEWARD_HOME": str(self.home), "STEWARD_CONFIG": str(self.config)}
        self.env.pop("TMUX", None)
        self.is_up = False

    def steward(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "supervisor", *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout, cwd=REPO,
                              check=False)

    def up(self) -> None:
        self.is_up = True
        done = self.steward("up")
        if done.returncode != 0:
            raise RuntimeError(f"steward up: {done.returncode}: {done.stderr.strip()}")

    def down(self) -> None:
        if self.is_up:
            self.steward("down")
            self.is_up = False

    def status(self) -> dict[str, Any]:
        done = self.steward("status", "--json", timeout=60)
        if done.returncode != 0 or not done.stdout.strip():
            return {}
        data: dict[str, Any] = json.loads(done.stdout)
        return data

    def wait_ready(self, sessions: Sequence[str], timeout: float) -> float:
        """Wait until every session has a running assistant that has captured; seconds taken."""
        t0 = time.monotonic()
        want = {f"session:{s}" for s in sessions} | {"reconciler", "escalation", "qa", "deploy"}
        while True:
            st = self.status()
            watchers = st.get("watchers", {})
            ticking = {a["name"] for a in st.get("assistants", []) if a.get("captures", 0) > 0}
            running = {n for n, w in watchers.items() if w.get("pids")}
            if want <= running and {w for w in want if w.startswith("session:")} <= ticking:
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                missing = sorted(want - running)
                idle = sorted(w for w in want if w.startswith("session:") and w not in ticking)
                raise RuntimeError(
                    f"Steward not ready after {timeout:.0f} s: {len(missing)} watchers missing "
                    f"({', '.join(missing[:3])}...), {len(idle)} assistants with no capture; "
                    f"see {self.home / 'log'}")
            time.sleep(1.0)

    def circusd(self) -> psutil.Process | None:
        try:
            return psutil.Process(int((self.home / "run" / "circusd.pid").read_text()))
        except (OSError, ValueError, psutil.NoSuchProcess):
            return None

    def watcher_pids(self) -> dict[str, list[int]]:
        """Watcher name -> pids, from circus (asked outside measuring windows)."""
        return {n: list(w.get("pids", [])) for n, w in self.status().get("watchers", {}).items()}

    def pids(self, pm_pane_pid: int | None) -> list[int]:
        """circusd, everything under it, and the PM pane's `steward tail` with its children."""
        out = []
        root = self.circusd()
        if root is not None:
            try:
                out = [root.pid, *(c.pid for c in root.children(recursive=True))]
            except psutil.NoSuchProcess:
                out = []
        if pm_pane_pid is not None:
            with contextlib.suppress(psutil.NoSuchProcess):
                tail = psutil.Process(pm_pane_pid)
                out += [tail.pid, *(c.pid for c in tail.children(recursive=True))]
        return out

    def events(self) -> list[dict[str, Any]]:
        db = self.home / "steward.db"
        if not db.exists():
            return []
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            conn.row_factory = sqlite3.Row
            rows = conn.execute("SELECT id, ts, stored_at, session, target, assistant, rule, "
                                "severity, text FROM events ORDER BY id")
            return [dict(r) for r in rows]
        finally:
            conn.close()

    def deliveries(self) -> list[dict[str, Any]]:
        db = self.home / "steward.db"
        if not db.exists():
            return []
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            conn.row_factory = sqlite3.Row
            rows = conn.execute("SELECT key, channel, ts, event_ids, body FROM deliveries")
            return [dict(r) for r in rows]
        finally:
            conn.close()


_RECORD = re.compile(r"^(\d+\.\d{3}) ", re.MULTILINE)


def notify_log(path: Path) -> list[tuple[float, str]]:
    """(time, text) of every Notify call in dbusmock's log, which stamps calls to the millisecond.

    The mock's own call list (GetCalls) keeps whole seconds only.  A record runs from its
    timestamp to the next one, since a notification body may span lines.
    """
    if not path.exists():
        return []
    text = path.read_text(errors="replace")
    starts = list(_RECORD.finditer(text))
    out = []
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        record = text[m.end():end]
        if record.startswith("Notify "):
            out.append((float(m.group(1)), record))
    return out
