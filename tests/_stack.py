"""A whole Steward (circusd and every watcher) on a private tmux server, for end-to-end tests."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil
from libtmux.test.retry import retry_until

REPO = Path(__file__).resolve().parent.parent


class Stack:
    """`steward` commands against one private state dir, tmux server and D-Bus."""

    def __init__(
        self,
        tmp: Path,
        *,
        socket_name: str,
        env: Mapping[str, str],
        extra_config: str = "",
        interval: float = 0.5,
    ) -> None:
        self.home = tmp / "steward"
        self.socket_name = socket_name
        self.config = tmp / "steward.toml"
        self.config.write_text(
            f'[tmux]\nsocket_name = "{socket_name}"\n'
            f"[capture]\ninterval = {interval}\n"
            "[watch]\ndiscovery_interval = 0.5\n"
            + extra_config
        )
        self.env = {**env, "STEWARD_HOME": str(self.home), "STEWARD_CONFIG": str(self.config)}
        self.env.pop("TMUX", None)
        self.pids: set[int] = set()
        self.up_output = ""

    def steward(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "supervisor", *args],
            env=self.env, capture_output=True, text=True, timeout=60, cwd=REPO,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"steward {' '.join(args)}: {proc.returncode}: {proc.stderr}")
        return proc

    def up(self) -> None:
        self.up_output = self.steward("up").stdout
        retry_until(lambda: {"reconciler", "escalation", "qa", "deploy"} <= set(self.watchers()),
                    10)
        self.remember_pids()

    def down(self) -> None:
        self.remember_pids()
        self.steward("down", check=False)

    def status(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.steward("status", "--json").stdout)
        return data

    def watchers(self) -> dict[str, Any]:
        w: dict[str, Any] = self.status().get("watchers", {})
        return w

    def remember_pids(self) -> None:
        pidfile = self.home / "run" / "circusd.pid"
        try:
            root = psutil.Process(int(pidfile.read_text()))
            self.pids |= {root.pid, *(c.pid for c in root.children(recursive=True))}
        except (OSError, ValueError, psutil.NoSuchProcess):
            return

    def alive(self) -> list[int]:
        out = []
        for pid in self.pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    out.append(pid)
            except psutil.NoSuchProcess:
                continue
        return out

    def events(self, **where: str) -> list[dict[str, Any]]:
        db = self.home / "steward.db"
        if not db.exists():
            return []
        out = [json.loads(line) for line in
               self.steward("events", "--json").stdout.splitlines() if line.strip()]
        return [e for e in out if all(e.get(k) == v for k, v in where.items())]

    def deliveries(self, channel: str) -> list[dict[str, Any]]:
        db = self.home / "steward.db"
        if not db.exists():
            return []
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute("SELECT * FROM deliveries WHERE channel = ?", (channel,))
            return [dict(r) for r in rows]

    def tmux(self, *args: str) -> str:
        proc = subprocess.run(["tmux", "-L", self.socket_name, *args], capture_output=True,
                              text=True, timeout=10, env=self.env)
        return proc.stdout

    def pane_text(self, target: str) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", target)


def type_line(stack: Stack, target: str, command: str) -> None:
    """Type a command into a pane's shell, as a person would."""
    subprocess.run(["tmux", "-L", stack.socket_name, "send-keys", "-t", target, "-l", command],
                   check=True, timeout=10)
    subprocess.run(["tmux", "-L", stack.socket_name, "send-keys", "-t", target, "Enter"],
                   check=True, timeout=10)


def start_session(
    stack: Stack, name: str, command: Sequence[str] = ("bash", "--norc", "--noprofile")
) -> None:
    """A detached session whose shell starts at once (no rc files) with a plain prompt."""
    subprocess.run(["tmux", "-L", stack.socket_name, "new-session", "-d", "-s", name,
                    "-x", "120", "-y", "30", "-e", "PS1=$ ", *command],
                   check=True, timeout=10, env=stack.env)
    retry_until(lambda: stack.pane_text(name).strip() != "", 10)
